//! End to end: the real `vxlab ui` in tmux, attached to a docker-overlay brought up under a
//! unique name. A ping from a node is followed hop by hop; an FDB entry deleted from
//! outside (`bridge fdb del`) must show, marked removed, on the captured screen within a
//! fraction of a second; `q` must restore the
//! terminal and leave the attached lab up (the test removes it). Needs root and tmux;
//! skips with a printed reason otherwise.

#[path = "common/skip.rs"]
mod skip;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vxlab");

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Removes the tmux session and the lab, even when the test fails.
struct Cleanup {
    session: String,
    lab: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = run("tmux", &["kill-session", "-t", &self.session]);
        let _ = run(BIN, &["down", &self.lab]);
    }
}

fn screen(session: &str) -> String {
    String::from_utf8_lossy(&run("tmux", &["capture-pane", "-p", "-t", session]).stdout)
        .into_owned()
}

fn tmux_format(session: &str, format: &str) -> String {
    let out = run("tmux", &["display-message", "-p", "-t", session, format]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Polls the screen until `pred` holds, for at most `limit`; returns the last screen.
fn wait_for(session: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
    let start = Instant::now();
    loop {
        let s = screen(session);
        if pred(&s) {
            return Some(s);
        }
        if start.elapsed() > limit {
            eprintln!("last screen:\n{s}");
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn keys(session: &str, keys: &[&str]) {
    let mut args = vec!["send-keys", "-t", session];
    args.extend_from_slice(keys);
    assert!(run("tmux", &args).status.success());
}

#[test]
fn ping_walk_and_fdb_deletion_show_live_and_quit_restores_the_terminal() {
    if !nix::unistd::geteuid().is_root() {
        skip::skip(format_args!("needs root to create network namespaces"));
        return;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        skip::skip(format_args!("tmux is not installed"));
        return;
    }
    let lab = format!("ui{}", std::process::id());
    let session = format!("vxlab-{lab}");
    let _cleanup = Cleanup {
        session: session.clone(),
        lab: lab.clone(),
    };
    let mut up = vec!["up", "docker-overlay", "--name", &lab, "--quiet"];
    if !vxlab::ipvs::kernel_has_ipvs() {
        up.push("--emulate-ipvs");
    }
    let out = run(BIN, &up);
    assert!(
        out.status.success(),
        "up: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // After the panel, the terminal's line discipline says whether raw mode was undone.
    let command = format!(
        "{BIN} ui {lab} --node hostA/sandbox_2; echo VXLAB-EXITED $?; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | sed 's/^/TTY:/'; \
         sleep 60"
    );
    let started = run(
        "tmux",
        &[
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "160",
            "-y",
            "45",
            &command,
        ],
    );
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    assert!(
        wait_for(&session, Duration::from_secs(20), |s| s
            .contains("capturing on"))
        .is_some(),
        "the panel did not start capturing"
    );
    assert_eq!(
        tmux_format(&session, "#{alternate_on}"),
        "1",
        "panel on the alternate screen"
    );

    // A ping from hostA/container (the node below), followed hop by hop.
    keys(&session, &["Down", "p"]);
    keys(&session, &["10.0.0.14", "Enter"]);
    let walked = wait_for(&session, Duration::from_secs(10), |s| {
        s.contains("ping 10.0.0.14 from hostA/container: reply received")
            && s.contains("delivered to hostB/container (10.0.0.14)")
    });
    assert!(walked.is_some(), "the ping's journey was not shown");
    keys(&session, &["n", "n", "n"]);
    let hop = wait_for(&session, Duration::from_secs(2), |s| {
        s.lines().any(|l| l.contains("◆hostA "))
    });
    assert!(
        hop.is_some(),
        "the 4th hop (hostA:eth0) is not marked on the topology"
    );

    // Walking selected the hop's node, hostA, and showed the route that sent it: the
    // underlay's, marked.
    assert!(
        hop.as_deref()
            .is_some_and(|s| s.contains("▶ hostA decided by: route 192.168.228.0/24")),
        "the route that decided the 4th hop is not named:\n{}",
        hop.unwrap_or_default()
    );

    // On to hostA/sandbox_2 (two down): its FDB tab, scrolled to the end, where vxlan0's
    // entries are.
    keys(&session, &["Tab", "Down", "Down", "5", "Tab", "End"]);
    let ns = format!("vx.{lab}.hostA.sandbox_2");
    let fdb = run(
        "ip",
        &[
            "netns", "exec", &ns, "bridge", "fdb", "show", "dev", "vxlan0",
        ],
    );
    let fdb = String::from_utf8_lossy(&fdb.stdout).into_owned();
    let line = fdb
        .lines()
        .find(|l| l.contains(" dst ") && l.contains(" self"))
        .unwrap_or_else(|| panic!("no remote entry on vxlan0:\n{fdb}"));
    let mac = line.split_whitespace().next().expect("a MAC").to_string();
    let dst = line
        .split_whitespace()
        .skip_while(|w| *w != "dst")
        .nth(1)
        .expect("a dst")
        .to_string();
    assert!(
        wait_for(&session, Duration::from_secs(5), |s| s
            .lines()
            .any(|l| l.contains(&format!("  {mac} vxlan0"))))
        .is_some(),
        "the entry {mac} is not on the FDB tab"
    );

    let deleted = Instant::now();
    let del = run(
        "ip",
        &[
            "netns", "exec", &ns, "bridge", "fdb", "del", &mac, "dev", "vxlan0", "dst", &dst,
            "self",
        ],
    );
    assert!(
        del.status.success(),
        "bridge fdb del: {}",
        String::from_utf8_lossy(&del.stderr)
    );
    let seen = wait_for(&session, Duration::from_secs(2), |s| {
        s.lines().any(|l| l.contains(&format!("- {mac} vxlan0")))
    });
    let latency = deleted.elapsed();
    assert!(
        seen.is_some(),
        "the deletion of {mac} was not shown as removed within 2 s"
    );
    eprintln!("FDB deletion shown as removed after {latency:?}");
    assert!(latency < Duration::from_secs(1), "too slow: {latency:?}");

    keys(&session, &["q"]);
    let after = wait_for(&session, Duration::from_secs(10), |s| s.contains("TTY:"))
        .expect("the panel did not exit on q");
    assert!(after.contains("VXLAB-EXITED 0"), "{after}");
    assert!(after.contains(&format!("lab `{lab}` left up")), "{after}");
    assert!(
        !after.contains("Topology —"),
        "the panel is still on screen:\n{after}"
    );
    assert_eq!(
        tmux_format(&session, "#{alternate_on}"),
        "0",
        "alternate screen left"
    );
    assert_eq!(
        tmux_format(&session, "#{cursor_flag}"),
        "1",
        "cursor shown again"
    );
    assert_eq!(
        tmux_format(&session, "#{mouse_any_flag}"),
        "0",
        "mouse capture off"
    );
    assert!(
        after.lines().any(|l| l.trim() == "TTY:icanon"),
        "raw mode left on:\n{after}"
    );
    assert!(
        after.lines().any(|l| l.trim() == "TTY:echo"),
        "echo left off:\n{after}"
    );
    assert!(
        !vxlab::lifecycle::namespaces_of(&vxlab::model::LabName::new(&lab).unwrap()).is_empty(),
        "an attached lab must be left up"
    );
    let down = run(BIN, &["down", &lab]);
    assert!(
        down.status.success(),
        "down: {}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(vxlab::lifecycle::namespaces_of(&vxlab::model::LabName::new(&lab).unwrap()).is_empty());
}
