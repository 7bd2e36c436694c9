//! Small file helpers for the data directory: private (0600) files for
//! secrets, synced writes.

use std::io::Write;
use std::path::Path;

/// Writes `data` to a new file readable only by its owner, synced. Fails if
/// the file exists (secrets are never silently overwritten).
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
    f.sync_all()
}

/// Writes a non-secret file (replacing it), synced.
pub fn write_public(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
