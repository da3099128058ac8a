//! Processes that live in a lab's namespaces: starting the scenario's programs, and
//! finding and stopping every process inside a namespace (whoever started it).

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::model::Program;
use crate::netns;
use crate::plan::script::argv;

/// Starts `program` detached (own process group, stdin from /dev/null, output to `log`)
/// inside namespace `ns`, and returns its pid. Built-in programs run `exe` (default: the
/// running executable), and so does a command whose program is `vxlab`.
pub fn spawn(ns: &str, program: &Program, log: &Path, exe: Option<&Path>) -> io::Result<u32> {
    let mut args = argv(program);
    if matches!(program, Program::Http { .. }) || args[0] == "vxlab" {
        let exe = match exe {
            Some(e) => e.to_path_buf(),
            None => std::env::current_exe()?,
        };
        if exe.file_name().is_none_or(|n| n != "vxlab") {
            let what = format!(
                "{} is not vxlab: cannot run its built-in programs",
                exe.display()
            );
            return Err(io::Error::other(what));
        }
        args[0] = exe.to_string_lossy().into_owned();
    }
    let port = match program {
        Program::Http { port, .. } => Some(*port),
        Program::Command(_) => None,
    };
    // A new log is private to the user whatever the umask, and never written through a
    // symlink planted in its place.
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(log)?;
    let err = out.try_clone()?;
    netns::run_in(ns, move || {
        let child = Command::new(&args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {}: {e}", args[0])))?;
        if let Some(port) = port {
            wait_listening(port, Duration::from_secs(3))?;
        }
        Ok(child.id())
    })
}

/// Waits until a TCP socket listens on `port` in the calling thread's namespace, so a lab
/// is only "up" once its servers answer.
fn wait_listening(port: u16, timeout: Duration) -> io::Result<()> {
    let needle = format!(":{port:04X} 00000000:0000 0A");
    let deadline = Instant::now() + timeout;
    loop {
        let table = fs::read_to_string("/proc/thread-self/net/tcp")?;
        if table.lines().any(|l| l.contains(&needle)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing listens on TCP port {port} after {timeout:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A log file name for `argv` run in namespace `ns`: the program's name and a hash of
/// the whole command line, short whatever the arguments.
pub fn log_name(ns: &str, argv: &[String]) -> String {
    let program = argv
        .first()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or("process");
    let program: String = program
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    let hash = argv
        .iter()
        .flat_map(|a| a.bytes().chain([0]))
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{ns}.{program}.{:08x}.log", hash >> 32)
}

/// Pids of the processes whose network namespace is `ns` (like `ip netns pids`).
pub fn pids_in(ns: &str) -> Vec<i32> {
    let Ok(ino) = netns::inode(ns) else {
        return Vec::new();
    };
    let want = format!("net:[{ino}]");
    let me = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| u32::try_from(pid).is_ok_and(|p| p != me))
        .filter(|pid| {
            fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|l| l.to_string_lossy() == want)
        })
        .collect()
}

/// Stops every process in namespace `ns`: SIGTERM, then SIGKILL after `grace`. Returns how
/// many there were.
pub fn stop_all(ns: &str, grace: Duration) -> usize {
    let pids = pids_in(ns);
    for &p in &pids {
        let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pids.iter().any(|&p| alive(p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &p in &pids {
        if alive(p) {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
    pids.len()
}

fn alive(pid: i32) -> bool {
    // A zombie has exited: treat it as gone.
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}
