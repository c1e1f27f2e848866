//! Files the launcher writes for the user (`--onion-address-file`): never through a
//! path another user, or the sandbox, could have planted.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replaces `path` with a file holding `contents`: written to a new file of its own in
/// the same directory (`O_CREAT|O_EXCL|O_NOFOLLOW`: never an existing file or link),
/// then renamed into place, which replaces a link planted at `path` rather than
/// writing where it points. Readers see the old file or the whole new one.
pub(crate) fn replace(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut staged_name = std::ffi::OsString::from(".");
    staged_name.push(name);
    staged_name.push(format!(".{}.new", std::process::id()));
    let staged = path.with_file_name(staged_name);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o644)
        .open(&staged)
        .and_then(|mut file| file.write_all(contents))
        .and_then(|()| std::fs::rename(&staged, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_link_is_replaced_not_followed() {
        let dir = std::env::temp_dir().join(format!("tsrs-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let path = dir.join("address");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        replace(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        replace(&path, b"again\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "again\n");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            2,
            "nothing left over"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
