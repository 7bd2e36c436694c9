//! Where the root key comes from: a 0600 file in the data dir (dev mode), or
//! a file / environment variable holding 64 hex digits. A key file readable
//! or writable by group or others is refused, and every copy of the text
//! read is wiped.

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

/// The longest root key file read: 64 hex digits with room for whitespace.
/// A bound, so a wrong path cannot make kmsd read a huge file.
const MAX_KEY_FILE: u64 = 4096;

/// Reads the root key (64 hex digits) from the file at `path`. Refuses a
/// file that group or others may read or write (the key would not be
/// secret, or could be replaced), and one that is not a regular file. The
/// text read is wiped.
pub fn read_root_key_file(path: &Path) -> std::io::Result<RootKey> {
    use std::io::Read;
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(invalid(format!("{} is not a regular file", path.display())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(invalid(format!(
                "{} has mode {:o}: a root key file must not be accessible to group or others (chmod 600)",
                path.display(),
                mode & 0o777
            )));
        }
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(invalid(format!(
            "{} does not hold 64 hex digits",
            path.display()
        )));
    }
    // Read into a buffer of its final size, so no reallocation leaves an
    // unwiped copy behind.
    let mut bytes = Vec::with_capacity(MAX_KEY_FILE as usize + 1);
    let read = (&mut file).take(MAX_KEY_FILE + 1).read_to_end(&mut bytes);
    let key = match read {
        Ok(_) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(parse_root_key_hex),
        Err(e) => {
            bytes.zeroize();
            return Err(e);
        }
    };
    bytes.zeroize();
    key.ok_or_else(|| invalid(format!("{} does not hold 64 hex digits", path.display())))
}

/// Reads the dev root key at `path`, creating it (mode 0600) if missing.
pub fn load_or_create_dev_root_key(path: &Path) -> std::io::Result<RootKey> {
    match read_root_key_file(path) {
        Ok(key) => Ok(key),
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

    /// Item 11 of issue 11: a key file open to group or others is refused;
    /// 0600 and 0400 are read.
    #[cfg(unix)]
    #[test]
    fn item_11_root_key_file_open_to_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("root.key");
        std::fs::write(&p, "ab".repeat(32)).expect("write");
        for mode in [0o644, 0o640, 0o604, 0o660, 0o602, 0o620, 0o666] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let e = match read_root_key_file(&p) {
                Err(e) => e,
                Ok(_) => panic!("mode {mode:o} accepted"),
            };
            assert!(e.to_string().contains("chmod 600"), "{e}");
            // The dev path refuses too rather than trusting the file.
            assert!(load_or_create_dev_root_key(&p).is_err());
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
            let k = read_root_key_file(&p).expect("private file");
            assert_eq!(k.expose_secret(), &[0xab; 32]);
        }
        // Not a regular file; not hex; too long.
        assert!(read_root_key_file(dir.path()).is_err());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::write(&p, "zz".repeat(32)).expect("write");
        assert!(read_root_key_file(&p).is_err());
        std::fs::write(&p, "ab".repeat(5000)).expect("write");
        assert!(read_root_key_file(&p).is_err());
    }

    #[test]
    fn hex_parsing() {
        assert!(parse_root_key_hex(&"ab".repeat(32)).is_some());
        assert!(parse_root_key_hex(&"ab".repeat(31)).is_none());
        assert!(parse_root_key_hex(&"zz".repeat(32)).is_none());
    }
}
