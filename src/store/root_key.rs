//! Where the root key comes from: a 0600 file in the data dir (dev mode), or
//! a file / environment variable holding 64 hex digits.

use std::path::Path;

use zeroize::Zeroize;

use crate::files::write_private;
use crate::secret::RootKey;

/// Parses 64 hex digits (surrounding whitespace ignored) into a root key.
pub fn parse_root_key_hex(text: &str) -> Option<RootKey> {
    let t = text.trim();
    if t.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    let ok = hex::decode_to_slice(t, &mut bytes).is_ok();
    let key = if ok {
        RootKey::from_slice(&bytes)
    } else {
        None
    };
    bytes.zeroize();
    key
}

/// Reads the dev root key at `path`, creating it (mode 0600) if missing.
pub fn load_or_create_dev_root_key(path: &Path) -> std::io::Result<RootKey> {
    match std::fs::read_to_string(path) {
        Ok(mut text) => {
            let key = parse_root_key_hex(&text);
            text.zeroize();
            key.ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} does not hold 64 hex digits", path.display()),
                )
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = RootKey::generate().map_err(std::io::Error::other)?;
            let mut text = hex::encode(key.expose_secret());
            let result = write_private(path, text.as_bytes());
            text.zeroize();
            result?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_root_key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("root.key");
        let a = load_or_create_dev_root_key(&p).expect("create");
        let b = load_or_create_dev_root_key(&p).expect("load");
        assert_eq!(a.expose_secret(), b.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn hex_parsing() {
        assert!(parse_root_key_hex(&"ab".repeat(32)).is_some());
        assert!(parse_root_key_hex(&"ab".repeat(31)).is_none());
        assert!(parse_root_key_hex(&"zz".repeat(32)).is_none());
    }
}
