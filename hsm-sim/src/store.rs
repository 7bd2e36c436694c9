//! A node's data directory: its master key, one file per live key, one
//! tombstone per destroyed key, and the login state. Every write is
//! crash-safe ([`crate::fsutil::write_atomic`]). The formats are in the
//! crate docs. This module knows files, not the network or sessions.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::fsutil::{
    create_new_private, create_private_dir_all, sync_dir, write_atomic, TEMP_PREFIX,
};
use crate::secret::Secret32;

/// The node's master key (32 raw bytes, 0600).
pub const MASTER_KEY: &str = "master.key";
/// Live keys, one file per handle.
pub const KEYS_DIR: &str = "keys";
/// Tombstones of destroyed keys, one empty file per handle.
pub const DESTROYED_DIR: &str = "destroyed";
/// Login state.
pub const USER_JSON: &str = "user.json";

/// A key file (`keys/<handle>`, JSON).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// 32 lower-case hex digits.
    pub handle: String,
    /// The label given at GenerateKey.
    pub label: String,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// Hex of `nonce (12) || ciphertext (32) || tag (16)`: the material
    /// sealed under the master key, additional data `cluster_id || handle`.
    pub sealed_material: String,
}

/// `user.json`: the `kmsuser` login state of this node.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserState {
    /// Failed logins since the last success.
    pub failures: u32,
    /// Locked after too many failures, until `hsm-sim unlock-user`.
    pub locked: bool,
}

/// Whether `h` is a handle this cluster makes (32 lower-case hex digits);
/// also what keeps a peer-supplied handle from naming any other file.
pub fn valid_handle(h: &str) -> bool {
    h.len() == 32
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A node's data directory.
pub struct Store {
    dir: PathBuf,
}

/// What a node holds on disk.
pub struct Loaded {
    /// Live keys.
    pub keys: Vec<KeyRecord>,
    /// Destroyed handles.
    pub destroyed: HashSet<String>,
}

impl Store {
    /// Opens (creating, mode 0700) a data directory; returns it with the
    /// master key (made at first start).
    pub fn open(dir: &Path) -> io::Result<(Self, Secret32)> {
        create_private_dir_all(&dir.join(KEYS_DIR))?;
        create_private_dir_all(&dir.join(DESTROYED_DIR))?;
        // Temporary files of writes a crash interrupted: never renamed, so
        // never part of the state.
        for d in [dir.to_owned(), dir.join(KEYS_DIR), dir.join(DESTROYED_DIR)] {
            for e in fs::read_dir(&d)? {
                let e = e?;
                if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    fs::remove_file(e.path())?;
                }
            }
        }
        let path = dir.join(MASTER_KEY);
        let master = match fs::read(&path) {
            Ok(raw) => {
                let raw = Zeroizing::new(raw);
                Secret32::from_slice(&raw).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: not 32 bytes", path.display()),
                    )
                })?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let k = Secret32::random().map_err(|_| io::Error::other("no randomness"))?;
                create_new_private(&path, k.expose_secret())?;
                k
            }
            Err(e) => return Err(e),
        };
        Ok((
            Self {
                dir: dir.to_owned(),
            },
            master,
        ))
    }

    /// Reads every key file and tombstone. A key that is also tombstoned
    /// (a crash between the two steps of [`Store::tombstone`]) is dropped.
    pub fn load(&self) -> io::Result<Loaded> {
        let mut destroyed = HashSet::new();
        for name in names(&self.dir.join(DESTROYED_DIR))? {
            if valid_handle(&name) {
                destroyed.insert(name);
            }
        }
        let mut keys = Vec::new();
        for name in names(&self.dir.join(KEYS_DIR))? {
            if !valid_handle(&name) || destroyed.contains(&name) {
                continue;
            }
            let path = self.dir.join(KEYS_DIR).join(&name);
            let rec: KeyRecord = serde_json::from_slice(&fs::read(&path)?).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            if rec.handle != name {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: handle does not match the file name", path.display()),
                ));
            }
            keys.push(rec);
        }
        Ok(Loaded { keys, destroyed })
    }

    /// Writes a key file durably.
    pub fn put_key(&self, rec: &KeyRecord) -> io::Result<()> {
        let json = serde_json::to_vec(rec).map_err(io::Error::other)?;
        write_atomic(&self.dir.join(KEYS_DIR), &rec.handle, &json)
    }

    /// Tombstones a handle durably, then removes its key file (if any).
    pub fn tombstone(&self, handle: &str) -> io::Result<()> {
        write_atomic(&self.dir.join(DESTROYED_DIR), handle, b"")?;
        match fs::remove_file(self.dir.join(KEYS_DIR).join(handle)) {
            Ok(()) => sync_dir(&self.dir.join(KEYS_DIR)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The login state (default when the file is missing).
    pub fn user(&self) -> io::Result<UserState> {
        read_user(&self.dir)
    }

    /// Writes the login state durably.
    pub fn set_user(&self, s: UserState) -> io::Result<()> {
        write_user(&self.dir, s)
    }
}

/// Reads `DATA_DIR/user.json` (default when missing).
pub fn read_user(data_dir: &Path) -> io::Result<UserState> {
    match fs::read(data_dir.join(USER_JSON)) {
        Ok(raw) => serde_json::from_slice(&raw)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{USER_JSON}: {e}"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(UserState::default()),
        Err(e) => Err(e),
    }
}

/// Writes `DATA_DIR/user.json` durably (`hsm-sim unlock-user` uses it too).
pub fn write_user(data_dir: &Path, s: UserState) -> io::Result<()> {
    let json = serde_json::to_vec(&s).map_err(io::Error::other)?;
    write_atomic(data_dir, USER_JSON, &json)
}

fn names(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let name = e?.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(TEMP_PREFIX) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(h: &str) -> KeyRecord {
        KeyRecord {
            handle: h.to_owned(),
            label: "l".into(),
            created_ms: 1,
            sealed_material: "00".into(),
        }
    }

    #[test]
    fn keys_tombstones_and_master_key_persist() {
        let d = tempfile::tempdir().unwrap();
        let (s, m1) = Store::open(d.path()).unwrap();
        let a = "0123456789abcdef0123456789abcdef";
        let b = "fedcba9876543210fedcba9876543210";
        s.put_key(&rec(a)).unwrap();
        s.put_key(&rec(b)).unwrap();
        s.tombstone(b).unwrap();
        let (s2, m2) = Store::open(d.path()).unwrap();
        assert_eq!(m1.expose_secret(), m2.expose_secret());
        let l = s2.load().unwrap();
        assert_eq!(l.keys, vec![rec(a)]);
        assert!(l.destroyed.contains(b));
        // A key file left behind by a crash after its tombstone stays dead.
        s2.put_key(&rec(b)).unwrap();
        assert_eq!(s2.load().unwrap().keys.len(), 1);
        // A torn write (a temp file never renamed) is ignored and removed.
        let torn = d.path().join(KEYS_DIR).join(format!("{TEMP_PREFIX}{a}"));
        fs::write(&torn, b"{\"trunc").unwrap();
        assert_eq!(s2.load().unwrap().keys, vec![rec(a)]);
        let (s3, _) = Store::open(d.path()).unwrap();
        assert!(!torn.exists());
        assert_eq!(s3.load().unwrap().keys, vec![rec(a)]);
    }

    #[test]
    fn user_state_round_trips_and_defaults() {
        let d = tempfile::tempdir().unwrap();
        let (s, _) = Store::open(d.path()).unwrap();
        assert_eq!(s.user().unwrap(), UserState::default());
        let st = UserState {
            failures: 3,
            locked: true,
        };
        s.set_user(st).unwrap();
        assert_eq!(read_user(d.path()).unwrap(), st);
    }

    #[test]
    fn handles_are_32_lower_hex() {
        assert!(valid_handle("0123456789abcdef0123456789abcdef"));
        assert!(!valid_handle("../../etc/passwd0123456789abcdef"));
        assert!(!valid_handle("0123456789ABCDEF0123456789abcdef"));
        assert!(!valid_handle("0123"));
    }
}
