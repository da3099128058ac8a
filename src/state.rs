//! vxlab's records on disk: `/run/vxlab` and one directory per lab in it, made private to
//! the user whatever the umask (directories 0700, files 0600), never followed through a
//! symlink, and refused unless owned by the user running vxlab. Every path is made from a
//! [`LabName`], so no string from the command line or a record can reach outside.
//!
//! What the records say is the business of their modules ([`crate::lifecycle`],
//! [`crate::fault::record`], [`crate::fault::exercise`]); this module only keeps them safe.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::model::LabName;

/// Where vxlab keeps its records of running labs.
pub const STATE_DIR: &str = "/run/vxlab";

/// The record directory of lab `lab`: `/run/vxlab/LAB`.
pub fn lab_dir(lab: &LabName) -> PathBuf {
    Path::new(STATE_DIR).join(lab.as_str())
}

/// Why a record directory may not be used.
fn unsafe_dir(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} {why}; vxlab will not use it (remove it yourself if you did not make it)",
            path.display()
        ),
    )
}

/// Checks that `path` is a real directory (not a symlink) owned by this user and closed to
/// others. `Ok(false)`: it does not exist.
fn check_dir(path: &Path) -> io::Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Err(unsafe_dir(
            path,
            "is a symbolic link, not vxlab's record directory",
        ));
    }
    if !meta.is_dir() {
        return Err(unsafe_dir(path, "is not a directory"));
    }
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(unsafe_dir(
            path,
            &format!("is owned by uid {}, not by you (uid {uid})", meta.uid()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        // Ours but loose (made under a permissive umask by an older vxlab): close it.
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    Ok(true)
}

/// Makes directory `path` (mode 0700, whatever the umask) if it does not exist, and checks it.
pub fn make_dir_at(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    check_dir(path).map(|_| ())
}

/// Makes `/run/vxlab` if needed and checks it.
pub fn make_root() -> io::Result<()> {
    if let Some(parent) = Path::new(STATE_DIR).parent() {
        fs::create_dir_all(parent)?;
    }
    make_dir_at(Path::new(STATE_DIR))
}

/// Makes lab `lab`'s record directory (and `/run/vxlab`) if needed; its path.
pub fn make_lab_dir(lab: &LabName) -> io::Result<PathBuf> {
    make_root()?;
    let dir = lab_dir(lab);
    make_dir_at(&dir)?;
    Ok(dir)
}

/// Makes directory `name` inside lab `lab`'s record directory if needed; its path.
pub fn make_sub_dir(lab: &LabName, name: &str) -> io::Result<PathBuf> {
    let dir = make_lab_dir(lab)?.join(name);
    make_dir_at(&dir)?;
    Ok(dir)
}

/// Lab `lab`'s record directory if it exists and is safe to read; `None` if it does not
/// exist. A symlink or a directory of another user is an error.
pub fn existing_lab_dir(lab: &LabName) -> io::Result<Option<PathBuf>> {
    check_dir(Path::new(STATE_DIR))?;
    let dir = lab_dir(lab);
    Ok(check_dir(&dir)?.then_some(dir))
}

/// Whether lab `lab` has a record directory (a symlink or another user's directory in its
/// place counts as none).
pub fn has_lab_dir(lab: &LabName) -> bool {
    existing_lab_dir(lab).is_ok_and(|d| d.is_some())
}

/// Opens `path` for writing, truncated, mode 0600, refusing a symlink in its place.
pub fn create_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| nofollow_error(path, e))?;
    // A file that existed keeps its mode through O_CREAT: set it.
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

/// Writes `contents` to record file `path` (mode 0600, never through a symlink).
pub fn write_file(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    create_file(path)?.write_all(contents.as_ref())
}

/// Reads record file `path`, refusing a symlink in its place.
pub fn read_file(path: &Path) -> io::Result<String> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| nofollow_error(path, e))?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    Ok(s)
}

fn nofollow_error(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        unsafe_dir(path, "is a symbolic link")
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vxlab-state-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn directories_are_private_and_symlinks_refused() {
        let d = tmp("dir");
        make_dir_at(&d).unwrap();
        assert_eq!(fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        make_dir_at(&d).unwrap();
        assert_eq!(fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        let link = d.with_extension("link");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&d, &link).unwrap();
        let e = make_dir_at(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        fs::remove_file(&link).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn files_are_0600_and_never_followed() {
        let d = tmp("file");
        make_dir_at(&d).unwrap();
        let f = d.join("a");
        fs::write(&f, "old").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).unwrap();
        write_file(&f, "new").unwrap();
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        assert_eq!(read_file(&f).unwrap(), "new");
        let target = d.join("target");
        fs::write(&target, "keep").unwrap();
        let link = d.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write_file(&link, "x").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(read_file(&link).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        fs::remove_dir_all(&d).unwrap();
    }
}
