//! What the backup, the journal and the log share on the local side: private directories and
//! files (Secrets are in them), and the time they record. A leaf: it imports no other part of
//! the migration, so the backup and the journal do not import each other.

use std::{io::Write, path::Path};

use crate::error::{Error, Result};

/// Creates a directory with mode 0700 (and its parents); an existing one is tightened to 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| Error::io("create backup directory", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("set permissions of", dir, e))?;
    }
    Ok(())
}

/// Writes a file with mode 0600 (replacing it; the mode is set before any byte is written).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(|e| Error::io("write", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("set permissions of", path, e))?;
    }
    f.write_all(bytes)
        .map_err(|e| Error::io("write", path, e))?;
    f.flush().map_err(|e| Error::io("write", path, e))
}

/// The current time as RFC 3339 (seconds).
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}
