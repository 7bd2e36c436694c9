//! Named profiles and Regions: which kmsd a client talks to when it is
//! given `--region` / `--profile` instead of an endpoint.
//!
//! The config file is `KMSCTL_CONFIG`, else `~/.kmsd/config`. It is INI in
//! the AWS CLI's style: `[default]` and `[profile NAME]` sections of
//! `key = value` lines (`#` and `;` start comments). The keys:
//!
//! | key | meaning |
//! |---|---|
//! | `region` | the profile's Region when none is given |
//! | `endpoint_url` | kmsd's URL |
//! | `data_dir` | a kmsd data directory (endpoint and TLS files, as `--data-dir`) |
//! | `ca_bundle` | CA certificate (PEM), as `--ca-cert` |
//! | `client_cert`, `client_key` | client identity (PEM), as `--client-cert` / `--client-key` |
//!
//! Any key may be suffixed with a Region (`endpoint_url.us-west-2 = …`):
//! the suffixed value is used for that Region and wins over the plain one.
//! A plain `endpoint_url` or `data_dir` names the kmsd of the profile's own
//! `region` only (one endpoint is one Region), so a Region the profile has
//! no `endpoint_url.R` / `data_dir.R` for is an error rather than a call to
//! the wrong Region; the plain TLS keys apply to every Region. Relative
//! paths are relative to the config file's directory; `~/` is the home
//! directory.
//!
//! Precedence, for each connection setting: the caller's value (flag, then
//! environment) wins, then the profile's value for the Region. A caller's
//! `--data-dir` / `KMS_DATA_DIR` names one kmsd completely, so the profile
//! is then not consulted for the connection at all.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::ConnectOptions;

/// Environment variable naming the config file (instead of `~/.kmsd/config`).
pub const ENV_CONFIG: &str = "KMSCTL_CONFIG";
/// Environment variable naming the profile (instead of `default`).
pub const ENV_PROFILE: &str = "KMS_PROFILE";
/// Environment variable naming the Region (instead of the profile's).
pub const ENV_REGION: &str = "KMS_REGION";
/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";
/// Settings a profile may hold (each also with a `.REGION` suffix).
const KEYS: [&str; 6] = [
    "region",
    "endpoint_url",
    "data_dir",
    "ca_bundle",
    "client_cert",
    "client_key",
];

/// Why the profile or Region could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The config file exists (or was named) but could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// Its path.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: io::Error,
    },
    /// A line of the config file is not INI this module understands.
    #[error("{path}:{line}: {reason}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A profile was named that the config file does not have (the AWS
    /// CLI's wording).
    #[error("The config profile ({name}) could not be found{}", where_(.path))]
    ProfileNotFound {
        /// The profile's name.
        name: String,
        /// The config file looked in, if there was one.
        path: Option<PathBuf>,
    },
    /// The Region name is not spelled like one (the AWS CLI's wording).
    #[error("Provided region_name '{0}' doesn't match a supported format.")]
    InvalidRegion(String),
    /// A Region was asked for that nothing gives an endpoint for.
    #[error(
        "no endpoint for Region {region}: profile {profile}{} has no endpoint_url.{region} \
         or data_dir.{region}{known}; add one, or pass --endpoint-url",
        where_(.path)
    )]
    NoEndpointForRegion {
        /// The Region.
        region: String,
        /// The profile consulted.
        profile: String,
        /// The config file, if there was one.
        path: Option<PathBuf>,
        /// ` (it knows: a, b)` or empty.
        known: String,
    },
}

fn where_(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!(" in {}", p.display()),
        None => " (no config file: set KMSCTL_CONFIG or create ~/.kmsd/config)".to_owned(),
    }
}

/// Whether `s` is a Region name as AWS spells them (`us-east-1`,
/// `us-gov-west-1`): lowercase letters and digits in two to five
/// dash-separated parts, the first letters only, the last a number, at most
/// 32 characters. The same rule as kmsd's.
pub fn is_valid_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 32
        && (2..=5).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
}

/// One profile's settings, as written (keys lowercased).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    settings: BTreeMap<String, String>,
}

impl Profile {
    /// The profile's own Region (`region`).
    pub fn region(&self) -> Option<&str> {
        self.settings.get("region").map(String::as_str)
    }

    /// A setting for `region`: `KEY.REGION`, else plain `KEY`.
    pub fn get(&self, key: &str, region: Option<&str>) -> Option<&str> {
        region
            .and_then(|r| self.settings.get(&format!("{key}.{r}")))
            .or_else(|| self.settings.get(key))
            .map(String::as_str)
    }

    /// The endpoint-giving setting (`endpoint_url` or `data_dir`) for
    /// `region`: the suffixed one, or the plain one only for the profile's
    /// own Region (or when no Region is asked for).
    fn endpoint_setting(&self, key: &str, region: Option<&str>) -> Option<&str> {
        match region {
            Some(r) => self
                .settings
                .get(&format!("{key}.{r}"))
                .or_else(|| {
                    (self.region() == Some(r))
                        .then(|| self.settings.get(key))
                        .flatten()
                })
                .map(String::as_str),
            None => self.settings.get(key).map(String::as_str),
        }
    }

    /// The Regions this profile has an endpoint for, sorted.
    pub fn regions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .settings
            .keys()
            .filter_map(|k| {
                k.strip_prefix("endpoint_url.")
                    .or_else(|| k.strip_prefix("data_dir."))
            })
            .collect();
        if let Some(r) = self.region() {
            if self.settings.contains_key("endpoint_url") || self.settings.contains_key("data_dir")
            {
                out.push(r);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A parsed config file: its profiles by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The file it came from (relative paths are relative to its directory).
    path: PathBuf,
    profiles: BTreeMap<String, Profile>,
}

impl Config {
    /// The config file to use: `KMSCTL_CONFIG` if set (non-empty), else
    /// `~/.kmsd/config` (no home directory: none). The flag says whether it
    /// was named explicitly (then it must exist).
    pub fn default_path() -> Option<(PathBuf, bool)> {
        if let Some(p) = std::env::var_os(ENV_CONFIG).filter(|p| !p.is_empty()) {
            return Some((PathBuf::from(p), true));
        }
        home_dir().map(|h| (h.join(".kmsd").join("config"), false))
    }

    /// Reads `path`. A file that does not exist is `Ok(None)` unless
    /// `must_exist`.
    pub fn load(path: &Path, must_exist: bool) -> Result<Option<Self>, ProfileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !must_exist => Ok(None),
            Err(source) => Err(ProfileError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses the text of a config file read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        let syntax = |line: usize, reason: String| ProfileError::Syntax {
            path: path.to_owned(),
            line,
            reason,
        };
        let mut profiles: BTreeMap<String, Profile> = BTreeMap::new();
        let mut current: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let Some(header) = rest.strip_suffix(']') else {
                    return Err(syntax(line_no, "a section header must end with ]".into()));
                };
                let header = header.trim();
                // As the AWS CLI's config file: `[default]`, `[profile NAME]`.
                let name = if header == DEFAULT_PROFILE {
                    DEFAULT_PROFILE.to_owned()
                } else if let Some(n) = header.strip_prefix("profile ") {
                    n.trim().to_owned()
                } else {
                    return Err(syntax(
                        line_no,
                        format!("unknown section [{header}]: use [default] or [profile NAME]"),
                    ));
                };
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(syntax(line_no, format!("bad profile name in [{header}]")));
                }
                profiles.entry(name.clone()).or_default();
                current = Some(name);
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(syntax(line_no, "expected key = value".into()));
            };
            let Some(profile) = current.as_ref().and_then(|c| profiles.get_mut(c)) else {
                return Err(syntax(line_no, "a setting before any [section]".into()));
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            let (base, region) = match key.split_once('.') {
                Some((b, r)) => (b, Some(r)),
                None => (key.as_str(), None),
            };
            if !KEYS.contains(&base) || (base == "region" && region.is_some()) {
                return Err(syntax(
                    line_no,
                    format!(
                        "unknown setting {key} (known: {}, each but region also as KEY.REGION)",
                        KEYS.join(", ")
                    ),
                ));
            }
            if let Some(r) = region.or((base == "region").then_some(value)) {
                if !is_valid_region(r) {
                    return Err(syntax(line_no, format!("{r} is not a Region name")));
                }
            }
            if value.is_empty() {
                return Err(syntax(line_no, format!("{key} has no value")));
            }
            profile.settings.insert(key, value.to_owned());
        }
        Ok(Self {
            path: path.to_owned(),
            profiles,
        })
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// The file this config was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path setting: `~/` expanded, relative to the config's directory.
    fn path_setting(&self, value: &str) -> PathBuf {
        if let (Some(rest), Some(home)) = (value.strip_prefix("~/"), home_dir()) {
            return home.join(rest);
        }
        let p = Path::new(value);
        match self.path.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_owned(),
        }
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// What the caller asked for: a profile and a Region (each from its flag,
/// else its environment variable), if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--profile` / `KMS_PROFILE`.
    pub profile: Option<String>,
    /// `--region` / `KMS_REGION`.
    pub region: Option<String>,
}

impl Selection {
    /// Fills unset fields from `KMS_PROFILE` and `KMS_REGION`.
    pub fn with_env_defaults(mut self) -> Self {
        let env = |n| std::env::var(n).ok().filter(|v: &String| !v.is_empty());
        self.profile = self.profile.or_else(|| env(ENV_PROFILE));
        self.region = self.region.or_else(|| env(ENV_REGION));
        self
    }
}

/// The connection settings after the profile was applied, and the Region
/// chosen (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `opts` with unset fields filled from the profile.
    pub opts: ConnectOptions,
    /// The Region in effect: the caller's, else the profile's.
    pub region: Option<String>,
}

/// Applies profile and Region selection to `opts` (already holding the
/// caller's flags and environment), with `config` the loaded config file,
/// if there is one. See the module docs for the rules.
pub fn apply(
    opts: ConnectOptions,
    selection: &Selection,
    config: Option<&Config>,
) -> Result<Applied, ProfileError> {
    if let Some(r) = &selection.region {
        if !is_valid_region(r) {
            return Err(ProfileError::InvalidRegion(r.clone()));
        }
    }
    let name = selection.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let profile = config.and_then(|c| c.profile(name));
    if profile.is_none() && selection.profile.is_some() {
        return Err(ProfileError::ProfileNotFound {
            name: name.to_owned(),
            path: config.map(|c| c.path.clone()),
        });
    }
    let region = selection
        .region
        .clone()
        .or_else(|| profile.and_then(|p| p.region()).map(str::to_owned));
    let given = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.trim().is_empty());
    let given_path = |o: &Option<PathBuf>| o.as_ref().is_some_and(|p| !p.as_os_str().is_empty());
    // An explicit data dir names one kmsd, endpoint and files together.
    if given_path(&opts.data_dir) {
        return Ok(Applied { opts, region });
    }
    let (Some(profile), Some(config)) = (profile, config) else {
        return match &region {
            Some(r) if !given(&opts.endpoint_url) => Err(ProfileError::NoEndpointForRegion {
                region: r.clone(),
                profile: name.to_owned(),
                path: config.map(|c| c.path.clone()),
                known: String::new(),
            }),
            _ => Ok(Applied { opts, region }),
        };
    };
    let r = region.as_deref();
    let mut out = opts;
    if !given(&out.endpoint_url) {
        out.endpoint_url = profile
            .endpoint_setting("endpoint_url", r)
            .map(str::to_owned);
    }
    out.data_dir = profile
        .endpoint_setting("data_dir", r)
        .map(|d| config.path_setting(d));
    if let Some(r) = r {
        if !given(&out.endpoint_url) && out.data_dir.is_none() {
            let regions = profile.regions();
            return Err(ProfileError::NoEndpointForRegion {
                region: r.to_owned(),
                profile: name.to_owned(),
                path: Some(config.path.clone()),
                known: if regions.is_empty() {
                    String::new()
                } else {
                    format!(" (it has: {})", regions.join(", "))
                },
            });
        }
    }
    let file = |given: Option<PathBuf>, key: &str| {
        given
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| profile.get(key, r).map(|v| config.path_setting(v)))
    };
    out.ca_cert = file(out.ca_cert, "ca_bundle");
    out.client_cert = file(out.client_cert, "client_cert");
    out.client_key = file(out.client_key, "client_key");
    Ok(Applied { opts: out, region })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# three Regions on one machine
[default]
region = us-east-1
ca_bundle = certs/ca.pem
client_cert = /abs/client.pem
client_key = ~/client.key
endpoint_url = https://127.0.0.1:7100
endpoint_url.us-west-2 = https://127.0.0.1:7200
data_dir.eu-west-1 = regions/eu-west-1
ca_bundle.eu-west-1 = /eu/ca.pem

[profile west]
; a profile whose own Region is us-west-2
region = us-west-2
endpoint_url = 127.0.0.1:7200
";

    fn config() -> Config {
        Config::parse(SAMPLE, Path::new("/etc/kmsd/config")).expect("parses")
    }

    fn sel(profile: Option<&str>, region: Option<&str>) -> Selection {
        Selection {
            profile: profile.map(str::to_owned),
            region: region.map(str::to_owned),
        }
    }

    #[test]
    fn region_picks_the_endpoint_and_tls_files() {
        let c = config();
        let home = home_dir().unwrap_or_default();
        // No Region given: the profile's own, with the plain endpoint.
        let a = apply(ConnectOptions::default(), &sel(None, None), Some(&c)).expect("ok");
        assert_eq!(a.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            a.opts.endpoint_url.as_deref(),
            Some("https://127.0.0.1:7100")
        );
        assert_eq!(
            a.opts.ca_cert,
            Some(PathBuf::from("/etc/kmsd/certs/ca.pem"))
        );
        assert_eq!(a.opts.client_cert, Some(PathBuf::from("/abs/client.pem")));
        assert_eq!(a.opts.client_key, Some(home.join("client.key")));
        assert_eq!(a.opts.data_dir, None);

        let a = apply(
            ConnectOptions::default(),
            &sel(None, Some("us-west-2")),
            Some(&c),
        )
        .expect("ok");
        assert_eq!(
            a.opts.endpoint_url.as_deref(),
            Some("https://127.0.0.1:7200")
        );
        assert_eq!(
            a.opts.ca_cert,
            Some(PathBuf::from("/etc/kmsd/certs/ca.pem"))
        );

        // A data dir for a Region; its own CA wins over the plain one.
        let a = apply(
            ConnectOptions::default(),
            &sel(None, Some("eu-west-1")),
            Some(&c),
        )
        .expect("ok");
        assert_eq!(a.opts.endpoint_url, None);
        assert_eq!(
            a.opts.data_dir,
            Some(PathBuf::from("/etc/kmsd/regions/eu-west-1"))
        );
        assert_eq!(a.opts.ca_cert, Some(PathBuf::from("/eu/ca.pem")));

        // Another profile.
        let a = apply(
            ConnectOptions::default(),
            &sel(Some("west"), None),
            Some(&c),
        )
        .expect("ok");
        assert_eq!(a.region.as_deref(), Some("us-west-2"));
        assert_eq!(a.opts.endpoint_url.as_deref(), Some("127.0.0.1:7200"));
        assert_eq!(a.opts.ca_cert, None);
    }

    #[test]
    fn the_callers_settings_win() {
        let c = config();
        let opts = ConnectOptions {
            endpoint_url: Some("https://kms.example:1".into()),
            client_key: Some("/given.key".into()),
            ..Default::default()
        };
        // --endpoint-url wins even for a Region the profile does not know;
        // the profile still supplies the files not given.
        let a = apply(opts, &sel(None, Some("ap-south-1")), Some(&c)).expect("ok");
        assert_eq!(
            a.opts.endpoint_url.as_deref(),
            Some("https://kms.example:1")
        );
        assert_eq!(a.opts.client_key, Some(PathBuf::from("/given.key")));
        assert_eq!(a.opts.client_cert, Some(PathBuf::from("/abs/client.pem")));
        assert_eq!(a.region.as_deref(), Some("ap-south-1"));

        // --data-dir names one kmsd: the profile is not consulted.
        let opts = ConnectOptions::from_data_dir("/dd");
        let a = apply(opts.clone(), &sel(None, Some("us-west-2")), Some(&c)).expect("ok");
        assert_eq!(a.opts, opts);
    }

    #[test]
    fn unknown_regions_and_profiles_are_clear_errors() {
        let c = config();
        let err = apply(
            ConnectOptions::default(),
            &sel(None, Some("ap-south-1")),
            Some(&c),
        )
        .expect_err("no endpoint");
        let msg = err.to_string();
        assert!(matches!(err, ProfileError::NoEndpointForRegion { .. }));
        assert!(
            msg.contains("ap-south-1")
                && msg.contains("endpoint_url.ap-south-1")
                && msg.contains("/etc/kmsd/config")
                && msg.contains("eu-west-1, us-east-1, us-west-2")
                && msg.contains("--endpoint-url"),
            "{msg}"
        );
        // The plain endpoint is the profile's own Region's, never another's.
        let err = apply(
            ConnectOptions::default(),
            &sel(Some("west"), Some("us-east-1")),
            Some(&c),
        )
        .expect_err("west has no us-east-1 endpoint");
        assert!(
            matches!(err, ProfileError::NoEndpointForRegion { .. }),
            "{err}"
        );
        // No config file at all.
        let err = apply(
            ConnectOptions::default(),
            &sel(None, Some("us-east-1")),
            None,
        )
        .expect_err("nothing names an endpoint");
        assert!(err.to_string().contains("KMSCTL_CONFIG"), "{err}");
        // Without --region and without a config, nothing changes.
        let a = apply(ConnectOptions::default(), &sel(None, None), None).expect("ok");
        assert_eq!((a.opts, a.region), (ConnectOptions::default(), None));

        let err = apply(
            ConnectOptions::default(),
            &sel(Some("nope"), None),
            Some(&c),
        )
        .expect_err("no such profile");
        assert_eq!(
            err.to_string(),
            "The config profile (nope) could not be found in /etc/kmsd/config"
        );
        let err = apply(ConnectOptions::default(), &sel(Some("nope"), None), None)
            .expect_err("no config");
        assert!(matches!(err, ProfileError::ProfileNotFound { .. }));
        let err = apply(
            ConnectOptions::default(),
            &sel(None, Some("US-EAST-1")),
            Some(&c),
        )
        .expect_err("bad name");
        assert_eq!(
            err.to_string(),
            "Provided region_name 'US-EAST-1' doesn't match a supported format."
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        for (text, line, needle) in [
            ("region = us-east-1\n", 1, "before any"),
            ("[default]\nendpoint https://x\n", 2, "key = value"),
            ("[default]\n\n[profile]\n", 3, "unknown section"),
            ("[aws]\n", 1, "unknown section"),
            ("[default\n", 1, "must end"),
            ("[default]\nendpoint = x\n", 2, "unknown setting"),
            (
                "[default]\nregion.us-east-1 = us-east-1\n",
                2,
                "unknown setting",
            ),
            ("[default]\nendpoint_url.Mars = x\n", 2, "not a Region"),
            ("[default]\nregion = mars\n", 2, "not a Region"),
            ("[default]\nendpoint_url =\n", 2, "no value"),
        ] {
            let err = Config::parse(text, Path::new("c")).expect_err(text);
            let msg = err.to_string();
            assert!(
                matches!(err, ProfileError::Syntax { line: l, .. } if l == line)
                    && msg.contains(needle),
                "{text:?}: {msg}"
            );
        }
    }

    #[test]
    fn loading_a_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        assert_eq!(Config::load(&path, false).expect("absent is fine"), None);
        assert!(matches!(
            Config::load(&path, true),
            Err(ProfileError::Read { .. })
        ));
        std::fs::write(&path, SAMPLE).expect("write");
        let c = Config::load(&path, true).expect("reads").expect("some");
        assert_eq!(
            c.profile("west").and_then(Profile::region),
            Some("us-west-2")
        );
        assert_eq!(c.path(), path);
    }

    #[test]
    fn region_names() {
        for ok in ["us-east-1", "eu-west-2", "us-gov-west-1", "ap-southeast-4"] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "US-EAST-1",
            "us-east",
            "us_east_1",
            "1-east-1",
            "a-b-c-d-e-1",
        ] {
            assert!(!is_valid_region(bad), "{bad}");
        }
    }
}
