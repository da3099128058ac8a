//! Watching a lab's wires with the kernel's own tools: tcpdump in a node, interface
//! counters and MACs from the node's sysfs. Independent oracles for the lab tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use super::TestLab;

/// `tcpdump -l -t -nn -i IF FILTER` running in a lab node, ready (it said "listening on").
pub struct Capture {
    child: Child,
    lines: Receiver<String>,
}

impl Capture {
    /// Starts a capture, or returns `None` (saying why) when tcpdump is not installed.
    pub fn start(lab: &TestLab, node: &str, ifname: &str, filter: &[&str]) -> Option<Self> {
        if Command::new("tcpdump").arg("--version").output().is_err() {
            eprintln!("skipped the capture: tcpdump is not installed");
            return None;
        }
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.netns(node)])
            .args(["tcpdump", "-l", "-t", "-nn", "-i", ifname])
            .args(filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcpdump");
        let (ready_tx, ready) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let this = Self { child, lines };
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("tcpdump did not start listening within 10 s");
        Some(this)
    }

    /// Lines captured until `done` holds for them, or `timeout` passes.
    pub fn until(&self, timeout: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while !done(&got) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(_) => break,
            }
        }
        got
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Index of an outer VXLAN line `IP SRC.port > DST.4789: VXLAN ... vni VNI` directly
/// followed by the inner line starting with `inner`.
pub fn encapsulated(
    lines: &[String],
    src: &str,
    dst: &str,
    vni: u32,
    inner: &str,
) -> Option<usize> {
    lines.windows(2).position(|w| {
        w[0].starts_with(&format!("IP {src}."))
            && w[0].contains(&format!(" > {dst}.4789: VXLAN"))
            && w[0].ends_with(&format!("vni {vni}"))
            && w[1].starts_with(inner)
    })
}

/// A counter of `/sys/class/net/IF/statistics` in `node` (`ip netns exec` mounts the
/// node's own sysfs).
pub fn counter(lab: &TestLab, node: &str, ifname: &str, name: &str) -> u64 {
    let path = format!("/sys/class/net/{ifname}/statistics/{name}");
    let text = lab.ok(node, &["cat", &path]);
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{node} {path}: {text:?}: {e}"))
}

/// The MAC of `ifname` in `node`, read from the node's own sysfs.
pub fn mac_of(lab: &TestLab, node: &str, ifname: &str) -> String {
    lab.ok(node, &["cat", &format!("/sys/class/net/{ifname}/address")])
        .trim()
        .to_string()
}
