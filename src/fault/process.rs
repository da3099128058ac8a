//! Stopping one of a lab's processes and starting it again: what a `stop_process` fault
//! does, and what planting a change to a device an agent manages does around it (the
//! agent would go on using the device it knew). A process is found by its command line
//! among the processes of its namespace, whoever started it.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{FaultError, kernel_err};
use crate::kernel::{Kernel, Netlink};
use crate::model::{Lab, Program};
use crate::plan::Op;
use crate::plan::script::argv;
use crate::process::{log_name, pids_in};

/// What `vxlab agent` logs once it has programmed every other node and follows etcd.
const AGENT_READY: &str = " watching ";

/// How long a started process may take to be ready.
const READY_WITHIN: Duration = Duration::from_secs(5);

/// How long a stopped process gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// Lab process `index` as it runs: its command line, `vxlab` for vxlab's own programs.
pub fn command_line(lab: &Lab, index: usize) -> Vec<String> {
    lab.processes.get(index).map_or_else(Vec::new, |p| {
        argv(
            &p.program
                .for_lab(lab, &crate::lifecycle::state_dir(&lab.name)),
        )
    })
}

/// What a process started with `argv` logs once it is ready, if it says.
pub fn ready_marker(argv: &[String]) -> Option<String> {
    (argv.first().map(String::as_str) == Some("vxlab")
        && argv.get(1).map(String::as_str) == Some("agent"))
    .then(|| AGENT_READY.to_string())
}

/// The command line of process `pid` (empty if it is gone).
pub fn cmdline(pid: i32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a process's command line `running` is `argv`: the same arguments, and a
/// program of the same name (vxlab's own run from wherever the binary is).
pub fn same_command(running: &[String], argv: &[String]) -> bool {
    let base = |p: &str| p.rsplit('/').next().map(str::to_string);
    match (running.split_first(), argv.split_first()) {
        (Some((p, rest)), Some((q, want))) => base(p) == base(q) && rest == want,
        _ => false,
    }
}

/// Pids of the processes of namespace `netns` running `argv`.
pub fn running(netns: &str, argv: &[String]) -> Vec<i32> {
    pids_in(netns)
        .into_iter()
        .filter(|&p| same_command(&cmdline(p), argv))
        .collect()
}

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// What stopping `argv` in `netns` amounts to, as a command.
pub fn stop_command(netns: &str, argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|a| crate::plan::script::quote(a)).collect();
    format!(
        "kill the process `{}` of {netns} (ip netns pids {netns}; kill PID)",
        words.join(" ")
    )
}

/// Stops the processes of `netns` running `argv`: SIGTERM, SIGKILL after a grace time.
/// Returns how many there were.
pub fn stop(netns: &str, argv: &[String]) -> usize {
    let pids = running(netns, argv);
    for &p in &pids {
        let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && pids.iter().any(|&p| alive(p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &p in pids.iter().filter(|&&p| alive(p)) {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
    pids.len()
}

/// Starts `argv` in `netns` as `up` does (detached, logging to the lab's directory when
/// `nl` has one) and waits until it is ready: still running, and, for a process that says
/// so in its log, saying it.
pub async fn start(
    nl: &mut Netlink,
    netns: &str,
    argv: &[String],
    ready: Option<&str>,
) -> Result<(), FaultError> {
    let op = Op::Spawn {
        netns: netns.to_string(),
        program: Program::Command(argv.to_vec()),
    };
    nl.apply(&op).await.map_err(kernel_err(op.command()))?;
    let log = nl.log_dir.as_ref().map(|d| d.join(log_name(netns, argv)));
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        let up = !running(netns, argv).is_empty();
        let said = match (ready, log.as_deref()) {
            (Some(m), Some(l)) => logged(l, m),
            _ => true,
        };
        if up && said {
            return Ok(());
        }
        if !up || Instant::now() > deadline {
            return Err(FaultError::NotReady {
                command: op.command(),
                why: if up {
                    format!("it did not get ready within {READY_WITHIN:?}")
                } else {
                    "it exited".to_string()
                },
                log: log.map(|l| l.display().to_string()),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn logged(log: &Path, marker: &str) -> bool {
    fs::read_to_string(log).is_ok_and(|t| t.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_recognised_by_its_arguments_wherever_its_binary_is() {
        let want: Vec<String> = ["vxlab", "agent", "--subnet", "10.244.2.0/24"]
            .map(String::from)
            .to_vec();
        let mut seen = want.clone();
        seen[0] = "/work/target/debug/vxlab".into();
        assert!(same_command(&seen, &want));
        seen[3] = "10.244.3.0/24".into();
        assert!(!same_command(&seen, &want));
        assert!(ready_marker(&want).is_some());
        assert!(ready_marker(&["etcd".to_string()]).is_none());
    }
}
