//! Small file helpers for the data directory: private (0700) directories,
//! private (0600) files for secrets, synced writes.
//!
//! A file's `fsync` makes its contents durable, not its name: the entry
//! lives in the parent directory, which must be synced too, or a crash
//! right after the first start can lose `root.key` while the database
//! (synced on its own) survives, unreadable for ever. So every helper here
//! that creates or renames a name also syncs the directory holding it.

use std::io::Write;
use std::path::Path;

/// Syncs the directory `dir` itself (its entries), so that names created or
/// renamed in it survive a crash. A no-op where directories cannot be
/// opened for syncing (not Unix).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Syncs the directory that holds `path` (`.` for a bare file name).
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_dir(p),
        _ => sync_dir(Path::new(".")),
    }
}

/// Creates `dir` and any missing ancestors, each new one with mode 0700
/// (whatever the umask: the data directory holds the root key and the
/// CA's private key) and each new name synced into its parent. Directories
/// that already exist keep their mode.
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_private_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(dir) {
        Ok(()) => {}
        // Created concurrently by someone else: fine, it exists.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    #[cfg(unix)]
    {
        // The umask may have cleared bits of 0700 (never added any); set
        // exactly 0700.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    sync_parent(dir)
}

/// Writes `data` to a new file readable only by its owner, synced together
/// with its directory entry. Fails if the file exists (secrets are never
/// silently overwritten).
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()?;
    sync_parent(path)
}

/// Writes a non-secret file (replacing it atomically), synced together with
/// its directory entry.
pub fn write_public(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_parent(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 12: new directories are 0700 whatever the umask allows, and an
    /// existing one is left alone.
    #[cfg(unix)]
    #[test]
    fn item_12_new_directories_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let deep = tmp.path().join("a").join("b").join("c");
        create_private_dir_all(&deep).expect("create");
        for d in [tmp.path().join("a"), tmp.path().join("a/b"), deep.clone()] {
            let mode = std::fs::metadata(&d).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", d.display());
        }
        // Idempotent; a file in the way is an error, not a silent success.
        create_private_dir_all(&deep).expect("again");
        let file = tmp.path().join("file");
        write_private(&file, b"x").expect("write");
        assert!(create_private_dir_all(&file).is_err());
        assert!(create_private_dir_all(&file.join("under")).is_err());
    }
}
