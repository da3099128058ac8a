//! Rootless mode: labs for users without root, inside a user namespace vxlab creates.
//!
//! `vxlab --rootless` gives the user a *world*: a new user namespace in which the user is
//! root, with its own mount and network namespaces and its own `/run` (a tmpfs). Labs
//! are built there exactly as on the host — `/run/netns`, `/run/vxlab` and the labs'
//! processes all live inside — and nothing outside can be touched: the world's root network
//! namespace is a fresh one, not the host's. A small holder process keeps the namespaces
//! open and every later `--rootless` command joins them. A command that leaves the world
//! without labs, while no other vxlab is inside, kills the holder: the kernel then frees
//! every namespace and device of the world at once.
//!
//! The world has no PID namespace of its own: a process that joins one can no longer start
//! threads (the kernel refuses `CLONE_THREAD` across PID namespaces), and vxlab needs them.
//! Lab processes are stopped by `down`, as on the host.
//!
//! The world cannot use IPVS (its netlink family asks for `CAP_NET_ADMIN` in the initial user
//! namespace; labs get the nftables emulation) nor kernel drop reasons (tracefs belongs to
//! the host).

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::{Flock, FlockArg};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, UnlinkatFlags, getgid, getuid, unlinkat};

/// The hidden subcommand the world's holder runs as.
pub const HOLDER_COMMAND: &str = "world-holder";

/// What a world's maker writes to its holder once the world is recorded and ready.
const WORLD_READY: &[u8] = b"ready\n";

/// A file in the world's own `/run`, so a command run inside the world knows it is there.
const INSIDE_MARK: &str = "/run/.vxlab-world";

/// Why the world could not be made or joined.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// The machine does not let this user create user namespaces.
    #[error(
        "rootless mode needs unprivileged user namespaces, and this machine refuses them \
         ({what}: {source}){policy}; ask the administrator, or run vxlab with sudo"
    )]
    Refused {
        /// The step that failed.
        what: &'static str,
        /// The kernel's answer.
        source: io::Error,
        /// The sysctls that restrict user namespaces, if any is set.
        policy: String,
    },
    /// The directory that records the world is not safe to use.
    #[error("rootless mode: {path}: {why}")]
    Home {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Any other step failed.
    #[error("rootless mode: cannot {what}: {source}")]
    Io {
        /// The step.
        what: String,
        /// The cause.
        source: io::Error,
    },
}

fn io_step(what: impl Into<String>) -> impl FnOnce(io::Error) -> RootlessError {
    let what = what.into();
    move |source| RootlessError::Io { what, source }
}

fn errno(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// This process's place in the user's world, from [`enter`] to [`World::leave`].
pub struct World {
    /// The directory recording the world, open so it stays reachable once the world's own
    /// `/run` hides the host's.
    home: File,
    /// Shared while inside; [`World::leave`] takes it exclusively to end the world.
    lock: Flock<File>,
    holder: Pid,
    created: bool,
}

/// Puts this process in the user's world, making the world first if there is none. `None`
/// when the process runs inside the world already (started by a command run in a lab).
///
/// Must be called while the process has a single thread (the kernel refuses `setns` into a
/// user namespace otherwise), before any runtime starts.
pub fn enter() -> Result<Option<World>, RootlessError> {
    if inside_world() {
        return Ok(None);
    }
    let dir = home()?;
    let home = File::open(&dir).map_err(io_step(format!("open {}", dir.display())))?;
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("lock"))
        .map_err(io_step(format!("open {}/lock", dir.display())))?;
    let lock = Flock::lock(lock_file, FlockArg::LockShared)
        .map_err(|(_, e)| io_step("lock the world")(errno(e)))?;
    if let Some(holder) = join_recorded(&dir)? {
        return Ok(Some(World {
            home,
            lock,
            holder,
            created: false,
        }));
    }
    lock.relock(FlockArg::LockExclusive)
        .map_err(|e| io_step("lock the world")(errno(e)))?;
    let (holder, created) = match join_recorded(&dir)? {
        Some(holder) => (holder, false),
        None => (create(&dir)?, true),
    };
    lock.relock(FlockArg::LockShared)
        .map_err(|e| io_step("lock the world")(errno(e)))?;
    Ok(Some(World {
        home,
        lock,
        holder,
        created,
    }))
}

impl World {
    /// Whether this process made the world (rather than joining it).
    pub fn created(&self) -> bool {
        self.created
    }

    /// The process keeping the world open.
    pub fn holder(&self) -> i32 {
        self.holder.as_raw()
    }

    /// Leaves the world: ends it if it holds no lab and no other vxlab is inside. Returns
    /// whether it ended.
    pub fn leave(self) -> bool {
        if self.lock.relock(FlockArg::LockExclusiveNonblock).is_err()
            || !crate::netns::list().is_empty()
            || !crate::lifecycle::labs_up().is_empty()
        {
            return false;
        }
        let _ = kill(self.holder, Signal::SIGKILL);
        let _ = unlinkat(&self.home, "world", UnlinkatFlags::NoRemoveDir);
        // The holder is this process's child when this process made the world.
        let _ = waitpid(self.holder, None);
        true
    }
}

/// Whether this process runs inside a rootless world.
pub fn inside_world() -> bool {
    Path::new(INSIDE_MARK).exists()
}

/// Whether this process runs in a user namespace other than the host's initial one (a
/// rootless world, or a container).
pub fn in_user_namespace() -> bool {
    fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| {
        let fields: Vec<&str> = map.split_whitespace().collect();
        fields != ["0", "0", "4294967295"]
    })
}

/// The directory recording the user's world: `$XDG_RUNTIME_DIR/vxlab`, else
/// `/tmp/vxlab-UID`, else (someone else made that one: in sticky `/tmp` the user cannot
/// remove it) `$HOME/.cache/vxlab`. Made private to the user; refused if anyone else owns it.
fn home() -> Result<PathBuf, RootlessError> {
    let uid = getuid().as_raw();
    if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && d.is_dir())
    {
        return private_dir(&xdg.join("vxlab"), uid);
    }
    let tmp = PathBuf::from(format!("/tmp/vxlab-{uid}"));
    let tmp_err = match private_dir(&tmp, uid) {
        Ok(d) => return Ok(d),
        // Ours, but open to others: the user can close it (the error says how).
        Err(e) if fs::symlink_metadata(&tmp).is_ok_and(|m| m.is_dir() && m.uid() == uid) => {
            return Err(e);
        }
        Err(e) => e,
    };
    let Some(home) = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && d.is_dir())
    else {
        return Err(advice(tmp_err));
    };
    let cache = home.join(".cache");
    if let Err(e) = DirBuilder::new().recursive(true).mode(0o700).create(&cache) {
        return Err(advice(io_step(format!("create {}", cache.display()))(e)));
    }
    private_dir(&cache.join("vxlab"), uid).map_err(|_| advice(tmp_err))
}

/// `e` (about `/tmp/vxlab-UID`), with what the user can do about it.
fn advice(e: RootlessError) -> RootlessError {
    match e {
        RootlessError::Home { path, why } => RootlessError::Home {
            why: format!(
                "{why}; set XDG_RUNTIME_DIR to a directory only you can write (e.g. `mkdir -m \
                 700 ~/.run && export XDG_RUNTIME_DIR=~/.run`), or ask the administrator to \
                 remove {}",
                path.display()
            ),
            path,
        },
        e => e,
    }
}

/// Makes directory `dir` (mode 0700) if needed, and checks that it is a real directory
/// of user `uid` that nobody else may use.
fn private_dir(dir: &Path, uid: u32) -> Result<PathBuf, RootlessError> {
    match DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(io_step(format!("create {}", dir.display()))(e));
        }
        _ => {}
    }
    let refuse = |why: String| RootlessError::Home {
        path: dir.to_path_buf(),
        why,
    };
    let meta = fs::symlink_metadata(dir).map_err(|e| refuse(e.to_string()))?;
    if !meta.is_dir() {
        return Err(refuse("not a directory (made by someone else?)".into()));
    }
    if meta.uid() != uid {
        return Err(refuse(format!(
            "owned by uid {}, not by you (uid {uid})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(format!(
            "others may use it (mode {:o}); `chmod 700` it",
            meta.mode() & 0o777
        )));
    }
    Ok(dir.to_path_buf())
}

/// The world's holder, if the record names a process that is still that holder.
fn recorded_holder(dir: &Path) -> Option<Pid> {
    let text = fs::read_to_string(dir.join("world")).ok()?;
    let mut fields = text.split_whitespace();
    let pid: i32 = fields.next()?.parse().ok()?;
    let started: u64 = fields.next()?.parse().ok()?;
    (start_time(pid) == Some(started)).then(|| Pid::from_raw(pid))
}

/// When process `pid` started (clock ticks since boot), which tells a reused PID apart;
/// `None` if it is gone or has exited.
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // An exited process waiting to be reaped no longer holds namespaces.
    if matches!(after_comm.first(), Some(&("Z" | "X"))) {
        return None;
    }
    after_comm.get(19)?.parse().ok()
}

/// Joins the recorded world, if there is one whose holder still runs.
fn join_recorded(dir: &Path) -> Result<Option<Pid>, RootlessError> {
    let Some(holder) = recorded_holder(dir) else {
        return Ok(None);
    };
    match join(holder) {
        Ok(()) => Ok(Some(holder)),
        // The holder ended between the check and the join (its maker was killed before
        // the world was ready): as if there were none.
        Err(RootlessError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Joins the world `holder` keeps.
fn join(holder: Pid) -> Result<(), RootlessError> {
    let ns = |kind: &str| {
        File::open(format!("/proc/{holder}/ns/{kind}"))
            .map_err(io_step(format!("open the world's {kind} namespace")))
    };
    let (user, mnt, net) = (ns("user")?, ns("mnt")?, ns("net")?);
    let cwd = std::env::current_dir().ok();
    for (file, kind, what) in [
        (
            &user,
            CloneFlags::CLONE_NEWUSER,
            "enter the world's user namespace",
        ),
        (&mnt, CloneFlags::CLONE_NEWNS, "enter the world's mounts"),
        (&net, CloneFlags::CLONE_NEWNET, "enter the world's network"),
    ] {
        setns(file, kind).map_err(|e| io_step(what)(errno(e)))?;
    }
    if let Some(cwd) = cwd {
        let _ = std::env::set_current_dir(cwd);
    }
    Ok(())
}

/// Makes the world: new user, mount and network namespaces for this process, the user
/// mapped to root, a process holding them, and a private `/run`. Records the holder in
/// `dir` before `/run` is replaced (the record may live under the host's `/run`).
fn create(dir: &Path) -> Result<Pid, RootlessError> {
    let (uid, gid) = (getuid(), getgid());
    let refused = |what, e: io::Error| RootlessError::Refused {
        what,
        source: e,
        policy: userns_policy(),
    };
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET)
        .map_err(|e| refused("unshare", errno(e)))?;
    for (file, map) in [
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/uid_map", format!("0 {uid} 1")),
        ("/proc/self/gid_map", format!("0 {gid} 1")),
    ] {
        fs::write(file, map).map_err(|e| refused("map the user to root", e))?;
    }
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| refused("make a private mount namespace", errno(e)))?;
    let exe = std::env::current_exe().map_err(io_step("find the vxlab binary"))?;
    let mut child = Command::new(exe)
        .arg(HOLDER_COMMAND)
        .current_dir("/")
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io_step("start the world's holder"))?;
    let holder = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let started = start_time(holder.as_raw()).unwrap_or_default();
    fs::write(dir.join("world"), format!("{holder} {started}\n"))
        .map_err(io_step(format!("write {}/world", dir.display())))?;
    mount(
        Some("vxlab"),
        "/run",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=755"),
    )
    .map_err(|e| refused("mount the world's /run", errno(e)))?;
    for d in [crate::netns::NETNS_DIR, crate::lifecycle::STATE_DIR] {
        fs::create_dir_all(d).map_err(io_step(format!("create {d}")))?;
    }
    fs::write(INSIDE_MARK, format!("{holder}\n"))
        .map_err(io_step(format!("write {INSIDE_MARK}")))?;
    // The world is complete: from now on the holder outlives this process.
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(WORLD_READY)
            .map_err(io_step("tell the holder the world is ready"))?;
    }
    Ok(holder)
}

/// The sysctls that forbid or restrict unprivileged user namespaces, where set.
fn userns_policy() -> String {
    let read = |key: &str| {
        fs::read_to_string(Path::new("/proc/sys").join(key.replace('.', "/")))
            .ok()
            .map(|v| v.trim().to_string())
    };
    let set: Vec<String> = [
        ("kernel.unprivileged_userns_clone", "0"),
        ("user.max_user_namespaces", "0"),
        ("kernel.apparmor_restrict_unprivileged_userns", "1"),
    ]
    .into_iter()
    .filter(|(key, bad)| read(key).as_deref() == Some(bad))
    .map(|(key, bad)| format!("{key} = {bad}"))
    .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("; restricted by {}", set.join(", "))
    }
}

/// The world's holder: keeps its namespaces open until killed or sent SIGTERM. It first
/// waits for its maker to say the world is ready, and ends at once if the maker dies
/// before (killed half-way), so no unrecorded world is left behind.
pub fn hold() -> io::Result<()> {
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    signals.thread_block().map_err(errno)?;
    let mut word = [0; WORLD_READY.len()];
    if io::stdin().read_exact(&mut word).is_err() || word != WORLD_READY {
        return Ok(());
    }
    while signals.wait().map_err(errno)? != Signal::SIGTERM {}
    Ok(())
}
