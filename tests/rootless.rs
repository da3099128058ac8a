//! Rootless mode, as a user without root sees it: the test drops to `nobody` (setpriv) and
//! runs the real binary with `--rootless`. Labs build and pass traffic inside the user's
//! world, the host (its namespaces, links, routes, firewall) never changes, and the world
//! ends with its last lab — also when `up` fails half-way.
//!
//! Skips (saying why) without root (needed to become `nobody`), without setpriv, or where
//! the kernel refuses unprivileged user namespaces.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::root_snapshot;

const NOBODY: u32 = 65534;

/// One test's user session: the binary linked where `nobody` may run it, and a private
/// runtime directory, so each test has a world of its own.
struct Student {
    dir: PathBuf,
    bin: PathBuf,
    runtime: PathBuf,
}

impl Student {
    /// `None` (after saying why) when this machine cannot run the test.
    fn new(tag: &str) -> Option<Self> {
        if !nix::unistd::geteuid().is_root() {
            common::skip(format_args!(
                "needs root to run commands as the unprivileged user nobody"
            ));
            return None;
        }
        if Command::new("setpriv").arg("--version").output().is_err() {
            common::skip(format_args!("setpriv (util-linux) is not installed"));
            return None;
        }
        let dir = std::env::temp_dir().join(format!("vxlab-rootless-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let runtime = dir.join("runtime");
        fs::create_dir_all(&runtime).expect("test dir");
        let bin = dir.join("vxlab");
        // A hard link, not a copy: a copy is open for writing while other tests' threads
        // fork, and executing it could then fail with ETXTBSY.
        if fs::hard_link(env!("CARGO_BIN_EXE_vxlab"), &bin).is_err() {
            fs::copy(env!("CARGO_BIN_EXE_vxlab"), &bin).expect("copy vxlab");
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).expect("chmod");
        nix::unistd::chown(&runtime, Some(NOBODY.into()), Some(NOBODY.into())).expect("chown");
        let student = Self { dir, bin, runtime };
        let probe = student.run(&["status"]);
        let err = String::from_utf8_lossy(&probe.stderr);
        if err.contains("refuses them") {
            common::skip(format_args!("{}", err.trim()));
            return None;
        }
        assert!(probe.status.success(), "status in a new world: {err}");
        Some(student)
    }

    /// `vxlab --rootless ARGS` as nobody.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run vxlab as nobody")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
        ])
        .arg(&self.bin)
        .arg("--rootless")
        .args(args)
        .env("XDG_RUNTIME_DIR", &self.runtime)
        .env("HOME", &self.dir)
        .current_dir(&self.dir);
        c
    }

    /// `vxlab --rootless ARGS` as nobody, asserting success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "vxlab --rootless {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The process holding the world open, if the world exists.
    fn holder(&self) -> Option<i32> {
        let record = fs::read_to_string(self.runtime.join("vxlab/world")).ok()?;
        let pid: i32 = record.split_whitespace().next()?.parse().ok()?;
        running(pid).then_some(pid)
    }
}

impl Drop for Student {
    /// After a failed test too: every process of the world (lab servers included), then
    /// the holder, so nothing of this test outlives it.
    fn drop(&mut self) {
        if let Some(holder) = self.holder() {
            let world = fs::read_link(format!("/proc/{holder}/ns/user")).ok();
            let inside = fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                    (fs::read_link(e.path().join("ns/user")).ok() == world).then_some(pid)
                });
            for pid in inside.collect::<Vec<_>>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Whether process `pid` exists and is not a zombie waiting for its reaper.
fn running(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next());
        state != Some("Z")
    })
}

fn host_namespaces() -> Vec<String> {
    vxlab::netns::list()
}

#[test]
fn a_rootless_lab_passes_traffic_and_never_touches_the_host() {
    let Some(student) = Student::new("nat") else {
        return;
    };
    let (namespaces, snapshot) = (host_namespaces(), root_snapshot());
    student.ok(&["up", "nat-basics"]);
    let holder = student.holder().expect("the world's holder runs");
    let owner = fs::read_to_string(format!("/proc/{holder}/status")).expect("holder status");
    assert!(
        owner
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains(&NOBODY.to_string())),
        "the holder runs as nobody:\n{owner}"
    );
    let status = student.ok(&["status", "nat-basics"]);
    assert!(status.contains("host/ns1"), "{status}");
    // Out through the host's MASQUERADE, and in through its port mapping (90 → ns1:80).
    student.ok(&[
        "exec",
        "nat-basics",
        "host/ns1",
        "--",
        "ping",
        "-c1",
        "-W2",
        "180.76.76.76",
    ]);
    let body = student.ok(&[
        "exec",
        "nat-basics",
        "outside",
        "--",
        "curl",
        "-s",
        "-m",
        "3",
        "http://10.0.4.13:90/",
    ]);
    assert!(
        body.starts_with("host/ns1"),
        "port mapping answered: {body}"
    );
    let trace = student.ok(&[
        "trace",
        "nat-basics",
        "--from",
        "host/ns1",
        "--ping",
        "180.76.76.76",
    ]);
    assert!(
        trace.contains("DNAT"),
        "the tracer captures inside the world:\n{trace}"
    );
    assert_eq!(
        host_namespaces(),
        namespaces,
        "no namespace appears on the host"
    );
    assert_eq!(
        root_snapshot(),
        snapshot,
        "the host's own namespace is untouched"
    );

    student.ok(&["break", "nat-basics", "no-default-route"]);
    let found = student.run(&["doctor", "nat-basics"]);
    let report = String::from_utf8_lossy(&found.stdout);
    assert!(
        !found.status.success() && report.contains("has no default route"),
        "the doctor finds the planted fault:\n{report}"
    );
    student.ok(&["fix", "nat-basics", "no-default-route"]);
    student.ok(&["doctor", "nat-basics"]);

    student.ok(&["down", "nat-basics"]);
    assert_eq!(student.holder(), None, "the world ends with its last lab");
    // SIGKILL takes effect when the holder next runs: wait for it (bounded).
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        !running(holder)
    });
    assert!(gone, "holder {holder} is gone");
    assert_eq!(root_snapshot(), snapshot);
}

#[test]
fn the_world_lives_while_any_lab_does() {
    let Some(student) = Student::new("two") else {
        return;
    };
    student.ok(&["up", "vxlan-p2p"]);
    student.ok(&["up", "bridge-basics"]);
    let labs = student.ok(&["status", "--json"]);
    assert!(
        labs.contains("vxlan-p2p") && labs.contains("bridge-basics"),
        "{labs}"
    );
    student.ok(&["down", "vxlan-p2p"]);
    assert!(
        student.holder().is_some(),
        "bridge-basics still needs the world"
    );
    let status = student.ok(&["status", "bridge-basics"]);
    assert!(status.contains("bridge-basics"), "{status}");
    student.ok(&["down", "bridge-basics"]);
    assert_eq!(student.holder(), None);
}

#[test]
fn ipvs_is_emulated_in_a_rootless_world() {
    let Some(student) = Student::new("ipvs") else {
        return;
    };
    let refused = student.run(&["up", "docker-overlay"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "real IPVS cannot work rootless");
    assert!(
        err.contains("vxlab --rootless up --emulate-ipvs docker-overlay"),
        "the refusal says what to run: {err}"
    );
    assert_eq!(student.holder(), None, "a refused up leaves no world");

    student.ok(&["up", "--emulate-ipvs", "docker-overlay"]);
    let backends: std::collections::BTreeSet<String> = (0..6)
        .map(|_| {
            student.ok(&[
                "exec",
                "docker-overlay",
                "client",
                "--",
                "curl",
                "-s",
                "-m",
                "3",
                "http://192.168.228.148/",
            ])
        })
        .map(|body| {
            body.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        backends.len(),
        2,
        "requests reach both containers: {backends:?}"
    );
    student.ok(&["down", "docker-overlay"]);
    assert_eq!(student.holder(), None);
}

#[test]
fn a_failed_rootless_up_leaves_nothing() {
    let Some(student) = Student::new("fail") else {
        return;
    };
    let namespaces = host_namespaces();
    let out = student
        .command(&["up", "vxlan-bridge"])
        .env(vxlab::lifecycle::FAIL_AT_STEP_ENV, "12")
        .output()
        .expect("run");
    assert!(!out.status.success(), "step 12 was made to fail");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("everything the lab had created was removed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(student.holder(), None, "no world is left behind");
    assert_eq!(host_namespaces(), namespaces);
}

#[test]
fn a_world_directory_others_can_write_is_refused() {
    let Some(student) = Student::new("unsafe") else {
        return;
    };
    let home = student.runtime.join("vxlab");
    fs::set_permissions(&home, fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = student.run(&["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("others may use it") && err.contains("chmod 700"),
        "{err}"
    );
}

#[test]
fn without_root_the_error_offers_rootless_mode() {
    let Some(student) = Student::new("plain") else {
        return;
    };
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
        ])
        .arg(&student.bin)
        .args(["up", "vxlan-p2p"])
        .current_dir(&student.dir)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("sudo") && err.contains("vxlab --rootless up"),
        "{err}"
    );
}

#[test]
fn gc_ends_a_world_whose_up_was_killed() {
    let Some(student) = Student::new("kill") else {
        return;
    };
    for delay_ms in [0, 10, 30] {
        let mut up = student
            .command(&["up", "--emulate-ipvs", "docker-overlay"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start up");
        // Kill it once the world exists, at some point of building the lab in it.
        let made = (0..400).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            student.holder().is_some()
        });
        assert!(made, "up makes the world");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // setpriv execs vxlab in place: this kills vxlab itself.
        let _ = up.kill();
        let _ = up.wait();
        student.ok(&["gc"]);
        let labs = student.ok(&["status", "--json"]);
        assert!(
            !labs.contains("docker-overlay"),
            "after {delay_ms} ms: {labs}"
        );
        assert_eq!(
            student.holder(),
            None,
            "after {delay_ms} ms the world is gone"
        );
    }
}

#[test]
fn the_ovs_lab_runs_rootless_where_the_user_may_open_tun() {
    let Some(student) = Student::new("ovs") else {
        return;
    };
    if vxlab::ovs::missing_program().is_some() {
        common::skip(format_args!("Open vSwitch is not installed"));
        return;
    }
    let mode = fs::metadata(vxlab::ovs::TUN).map_or(0, |m| m.permissions().mode());
    let up = student.run(&["up", "--ovs-datapath", "netdev", "ovs-vxlan"]);
    let err = String::from_utf8_lossy(&up.stderr);
    if mode & 0o006 != 0o006 {
        assert!(!up.status.success(), "{} is mode {mode:o}", vxlab::ovs::TUN);
        assert!(err.contains("sudo chmod 666 /dev/net/tun"), "{err}");
        assert_eq!(student.holder(), None, "a refused up leaves no world");
        return;
    }
    assert!(up.status.success(), "{err}");
    student.ok(&[
        "exec",
        "ovs-vxlan",
        "host1/c1",
        "--",
        "ping",
        "-c1",
        "-W2",
        "100.1.1.2",
    ]);
    student.ok(&["down", "ovs-vxlan"]);
    assert_eq!(student.holder(), None);
}
