//! Named network namespaces, compatible with `ip netns`: bind mounts under `/run/netns`.
//!
//! A namespace is entered only on a plain `std::thread` that exits afterwards ([`run_in`]),
//! never on an async worker that could be reused. Sockets and child processes created on
//! that thread stay in the namespace.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where `ip netns` keeps its namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// Path of the bind mount of namespace `name`.
pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

fn io_err(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Makes `/run/netns` a shared mount point, as `ip netns add` does, so namespaces created
/// here are visible from other mount namespaces.
fn prepare_dir() -> io::Result<()> {
    fs::create_dir_all(NETNS_DIR)?;
    let flags = MsFlags::MS_SHARED | MsFlags::MS_REC;
    if mount(None::<&str>, NETNS_DIR, None::<&str>, flags, None::<&str>).is_err() {
        mount(
            Some(NETNS_DIR),
            NETNS_DIR,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(io_err)?;
        mount(None::<&str>, NETNS_DIR, None::<&str>, flags, None::<&str>).map_err(io_err)?;
    }
    Ok(())
}

/// Creates network namespace `name`; fails if it exists.
pub fn create(name: &str) -> io::Result<()> {
    prepare_dir()?;
    let target = path(name);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)?;
    let t = target.clone();
    let made = std::thread::spawn(move || -> io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(io_err)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &t,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(io_err)
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")));
    if made.is_err() {
        let _ = fs::remove_file(&target);
    }
    made
}

/// Deletes network namespace `name`: unmounts and removes its file. The kernel frees the
/// namespace, and every device in it, once no process is left inside.
pub fn delete(name: &str) -> io::Result<()> {
    let p = path(name);
    match umount2(&p, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL | nix::Error::ENOENT) => {}
        Err(e) => return Err(io_err(e)),
    }
    match fs::remove_file(&p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Names of every namespace under `/run/netns`, sorted.
pub fn list() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(NETNS_DIR)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Whether namespace `name` exists.
pub fn exists(name: &str) -> bool {
    path(name).exists()
}

/// Opens namespace `name` (for `setns` or moving links into it).
pub fn open(name: &str) -> io::Result<File> {
    File::open(path(name))
        .map_err(|e| io::Error::new(e.kind(), format!("network namespace {name}: {e}")))
}

/// Inode of namespace `name`, the identity `/proc/PID/ns/net` links show as `net:[INODE]`.
pub fn inode(name: &str) -> io::Result<u64> {
    Ok(fs::metadata(path(name))?.ino())
}

/// Runs `f` on a new thread that entered namespace `name`, and returns its result. The
/// thread exits afterwards, so no other code ever runs in the namespace by accident.
pub fn run_in<T, F>(name: &str, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let file = open(name)?;
    std::thread::spawn(move || {
        setns(&file, CloneFlags::CLONE_NEWNET).map_err(io_err)?;
        f()
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
}

/// Writes sysctl `key` (dotted, under `net.`) in namespace `name`.
pub fn write_sysctl(name: &str, key: &str, value: &str) -> io::Result<()> {
    let file = Path::new("/proc/sys").join(key.replace('.', "/"));
    let value = value.to_string();
    run_in(name, move || {
        fs::write(&file, value.as_bytes())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))
    })
}

/// Reads sysctl `key` in namespace `name`.
pub fn read_sysctl(name: &str, key: &str) -> io::Result<String> {
    let file = Path::new("/proc/sys").join(key.replace('.', "/"));
    run_in(name, move || {
        Ok(fs::read_to_string(file)?.trim().to_string())
    })
}

/// Runs `f` on a new thread that entered namespace `name`, without waiting for it: for
/// work that lives as long as the namespace is watched (a capture). The thread must exit
/// when `f` returns; its result comes back through the handle.
pub fn spawn_in<T, F>(name: &str, f: F) -> io::Result<std::thread::JoinHandle<io::Result<T>>>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let file = open(name)?;
    std::thread::Builder::new()
        .name(format!("ns {name}"))
        .spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(io_err)?;
            f()
        })
}

/// Runs `argv` inside namespace `name` the way `ip netns exec` does: in a private mount
/// namespace with `/sys` remounted, so `/sys/class/net` shows the namespace's interfaces.
/// Inherits stdio and waits for the command.
pub fn exec(name: &str, argv: &[String]) -> io::Result<std::process::ExitStatus> {
    let argv = argv.to_vec();
    run_in(name, move || {
        // Unsharing the mount namespace also unshares this thread's filesystem context,
        // so the process's other threads keep the host's mounts.
        unshare(CloneFlags::CLONE_NEWNS).map_err(io_err)?;
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(io_err)?;
        let _ = umount2("/sys", MntFlags::MNT_DETACH);
        mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(io_err)?;
        let (program, rest) = argv
            .split_first()
            .ok_or_else(|| io::Error::other("no command"))?;
        std::process::Command::new(program).args(rest).status()
    })
}
