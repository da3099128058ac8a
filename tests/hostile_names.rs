//! Attacks on the host through names and records, run against the real binary: a path, `..`,
//! `.` or `''` given as a lab never removes anything; hostile lab, node, fault and file names
//! are refused by every command before anything is touched; records are private under any
//! umask and never followed through a symlink; a tampered fault record is refused by `fix`
//! and another lab is left alone; a stale record is cleared by `up`; labs have locks of
//! their own.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{runtime, unique_name};
use vxlab::kernel::Netlink;
use vxlab::lifecycle;
use vxlab::model::LabName;

/// A lab with a process and three faults: a link, a process and a sysctl.
const LAB: &str = r#"
[lab]
name = "hostile"
[[host]]
name = "host"
[[namespace]]
name = "host/ns1"
[[veth]]
name = "host/ns1:veth0"
peer = "host:veth1"
[[address]]
dev = "host/ns1:veth0"
address = "10.9.0.1/24"
[[address]]
dev = "host:veth1"
address = "10.9.0.2/24"
[[process]]
node = "host"
http = 8080
[[fault]]
name = "port-down"
description = "ns1 loses the host"
link_down = { dev = "host:veth1" }
[[fault]]
name = "web-stopped"
description = "the web server stops"
stop_process = { node = "host", process = 1 }
[[fault]]
name = "forwarding"
description = "the host forwards"
sysctl = { node = "host", key = "net.ipv4.ip_forward", value = 1 }
"#;

/// Labs, files and directories of one test, removed when dropped, even on failure.
struct Scratch {
    dir: PathBuf,
    labs: Vec<LabName>,
    links: Vec<PathBuf>,
}

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vxlab-hostile-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("v/sub")).expect("scratch dir");
        fs::write(dir.join("lab.toml"), LAB).expect("scenario");
        Self {
            dir,
            labs: Vec::new(),
            links: Vec::new(),
        }
    }

    fn scenario(&self) -> String {
        self.dir.join("lab.toml").display().to_string()
    }

    /// Brings the test lab up under a unique name, with `umask` in force.
    fn up(&mut self, tag: &str, umask: &str) -> LabName {
        let name = unique_name(tag);
        self.labs.push(name.clone());
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask}; exec \"$0\" up -q --name {name} \"$1\""
            ))
            .arg(env!("CARGO_BIN_EXE_vxlab"))
            .arg(self.scenario())
            .output()
            .expect("run vxlab up");
        assert!(out.status.success(), "up {name}: {}", text(&out));
        name
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for l in &self.links {
            let _ = fs::remove_file(l);
        }
        for lab in &self.labs {
            let _ = runtime().block_on(lifecycle::down(lab, &mut Netlink::new()));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `vxlab ARGS` run in `cwd`, with umask `umask`.
fn vxlab_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run vxlab")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o777
}

/// What must survive every refused command: the scratch tree, `/run`'s own directories,
/// and the lab that is up (namespaces and record).
fn assert_untouched(s: &Scratch, lab: &LabName, what: &str) {
    assert!(
        s.dir.join("v/sub").is_dir(),
        "{what}: removed the scratch tree"
    );
    assert!(
        Path::new("/run/netns").is_dir(),
        "{what}: removed /run/netns"
    );
    assert!(
        Path::new("/run/vxlab").is_dir(),
        "{what}: removed /run/vxlab"
    );
    assert_eq!(
        lifecycle::namespaces_of(lab).len(),
        2,
        "{what}: lab {lab} lost namespaces"
    );
    assert!(
        lifecycle::state_dir(lab).join("scenario.toml").is_file(),
        "{what}: lab {lab} lost its record"
    );
}

#[test]
fn down_of_a_path_or_dot_names_removes_nothing() {
    require_root!();
    let mut s = Scratch::new("down");
    let lab = s.up("down", "022");
    let sub = s.dir.join("v/sub");
    let v = s.dir.join("v").display().to_string();
    for arg in [
        v.as_str(),
        "..",
        ".",
        "",
        "../x",
        "/run",
        "/run/vxlab",
        "./",
    ] {
        let out = vxlab_in(&sub, &["down", arg]);
        let said = text(&out);
        assert!(!out.status.success(), "down {arg:?} succeeded: {said}");
        assert!(
            said.contains("not a valid lab name") || said.contains("is a directory"),
            "down {arg:?}: {said}"
        );
        assert!(
            said.contains(lab.as_str()),
            "down {arg:?} does not list the labs up: {said}"
        );
        assert_untouched(&s, &lab, &format!("down {arg:?}"));
    }
    println!("down: 8 path-like names refused, nothing removed");
}

#[test]
fn hostile_names_are_refused_by_every_command() {
    require_root!();
    let mut s = Scratch::new("table");
    let lab = s.up("table", "022");
    let cwd = s.dir.join("v/sub");
    let long = "x".repeat(40);
    let hostile = [
        "..",
        ".",
        "",
        "../x",
        "a/b",
        "/tmp",
        "../../netns/x",
        &long,
        "caf\u{e9}",
        "a b",
        "-x",
        "x\u{202e}y",
    ];
    let l = lab.as_str();
    let commands: &[&[&str]] = &[
        &["down", "@"],
        &["status", "@"],
        &["exec", "@", "host", "--", "true"],
        &["exec", l, "@", "--", "true"],
        &["trace", "@", "--from", "host", "--ping", "10.9.0.1"],
        &["trace", l, "--from", "@", "--ping", "10.9.0.1"],
        &["explain", "@", "--from", "host", "--to", "10.9.0.1"],
        &["explain", l, "--from", "@", "--to", "10.9.0.1"],
        &["doctor", "@"],
        &["faults", "@"],
        &["break", "@", "port-down"],
        &["break", l, "@"],
        &["fix", "@", "port-down"],
        &["fix", l, "@"],
        &["exercise", "@"],
        &["ui", "@"],
        &["lint", "@"],
        &["script", "@"],
        &["up", "@"],
        &["up", "--name", "@", "bridge-basics"],
    ];
    let mut trials = 0;
    for cmd in commands {
        for h in hostile {
            let args: Vec<&str> = cmd.iter().map(|a| if *a == "@" { h } else { *a }).collect();
            let out = vxlab_in(&cwd, &args);
            let said = text(&out);
            assert!(!out.status.success(), "vxlab {args:?} succeeded: {said}");
            assert!(!said.trim().is_empty(), "vxlab {args:?} said nothing");
            assert!(!said.contains("panicked"), "vxlab {args:?}: {said}");
            assert_untouched(&s, &lab, &format!("vxlab {args:?}"));
            trials += 1;
        }
    }
    // The fault the lab has was never planted by any of them.
    assert!(!lifecycle::state_dir(&lab).join("faults").exists());
    println!(
        "{trials} hostile invocations over {} commands: all refused",
        commands.len()
    );
}

#[test]
fn records_are_private_under_a_loose_umask() {
    require_root!();
    let mut s = Scratch::new("umask");
    let lab = s.up("umask", "000");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("umask 000; exec \"$0\" break {lab} forwarding"))
        .arg(env!("CARGO_BIN_EXE_vxlab"))
        .output()
        .expect("run vxlab break");
    assert!(out.status.success(), "{}", text(&out));
    let dir = lifecycle::state_dir(&lab);
    assert_eq!(mode(Path::new(lifecycle::STATE_DIR)), 0o700);
    let mut files = 0;
    let mut dirs = vec![dir.clone()];
    while let Some(d) = dirs.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                files += 1;
            }
        }
    }
    // scenario.toml, complete, the web server's log, the fault record.
    assert!(files >= 4, "{files} files in {}", dir.display());
    println!("umask 000: {files} record files 0600, their directories 0700");
}

#[test]
fn a_symlink_planted_as_a_record_is_refused_and_not_followed() {
    require_root!();
    let mut s = Scratch::new("link");
    let target = s.dir.join("v");
    fs::write(target.join("keep"), "keep").unwrap();
    let name = unique_name("link");
    s.labs.push(name.clone());
    fs::create_dir_all(lifecycle::STATE_DIR).unwrap();
    let link = lifecycle::state_dir(&name);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    s.links.push(link.clone());
    let before = fs::metadata(&target).unwrap().permissions().mode();
    let scenario = s.scenario();
    let n = name.as_str();
    for args in [
        vec!["up", "-q", "--name", n, scenario.as_str()],
        vec!["down", n],
        vec!["faults", n],
        vec!["break", n, "port-down"],
        vec!["fix", n, "port-down"],
    ] {
        let out = vxlab_in(&s.dir, &args);
        let said = text(&out);
        assert!(!out.status.success(), "{args:?} succeeded: {said}");
        assert!(said.contains("symbolic link"), "{args:?}: {said}");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            2,
            "{args:?} wrote into the link's target"
        );
        assert_eq!(fs::read_to_string(target.join("keep")).unwrap(), "keep");
        assert_eq!(fs::metadata(&target).unwrap().permissions().mode(), before);
        assert!(
            lifecycle::namespaces_of(&name).is_empty(),
            "{args:?} built the lab"
        );
    }
}

/// A change made to a fault record by hand.
type Attack = Box<dyn Fn(&mut serde_json::Value)>;

/// Rewrites fault record `fault` of `lab` with `tamper`.
fn tamper(lab: &LabName, fault: &str, tamper: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let p = vxlab::fault::record::path(lab, fault);
    let mut r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    tamper(&mut r);
    fs::write(&p, r.to_string()).unwrap();
    p
}

fn link_up(lab: &LabName, node: &str, dev: &str) -> bool {
    let out = Command::new("ip")
        .args([
            "-n",
            &vxlab::model::netns_name(lab, node),
            "-o",
            "link",
            "show",
            dev,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(",UP")
}

#[test]
fn a_tampered_fault_record_is_refused_and_other_labs_are_left_alone() {
    require_root!();
    let mut s = Scratch::new("tamper");
    let a = s.up("tampa", "022");
    let b = s.up("tampb", "022");
    let pwned = s.dir.join("pwned");
    let planted = |lab: &LabName, fault: &str| {
        let out = vxlab_in(&s.dir, &["break", lab.as_str(), fault]);
        assert!(out.status.success(), "{}", text(&out));
    };
    planted(&a, "port-down");
    planted(&a, "web-stopped");
    // B's port is down by hand: a replayed record of A naming B's namespace would bring it up.
    let out = Command::new("ip")
        .args([
            "-n",
            &vxlab::model::netns_name(&b, "host"),
            "link",
            "set",
            "veth1",
            "down",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let host_name = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let (a2, b2, pw) = (a.clone(), b.clone(), pwned.display().to_string());
    let hn = host_name.trim().to_string();
    let attacks: Vec<(&str, Attack, &str)> = vec![
        (
            "port-down",
            Box::new({
                let b = b2.clone();
                move |r| r["undo"][0]["netns"] = format!("../netns/vx.{b}.host").into()
            }),
            "is not one of lab",
        ),
        (
            "port-down",
            Box::new({
                let b = b2.clone();
                move |r| r["undo"][0]["netns"] = format!("vx.{b}.host").into()
            }),
            "is not one of lab",
        ),
        (
            "port-down",
            Box::new(|r| r["undo"][0]["dev"] = "../../x".into()),
            "not a valid interface name",
        ),
        (
            "port-down",
            Box::new(move |r| r["lab"] = b2.as_str().into()),
            "not of",
        ),
        (
            "web-stopped",
            Box::new(move |r| {
                r["undo"][0]["argv"] = serde_json::json!(["sh", "-c", format!("touch {pw}")]);
            }),
            "is not one of the lab's processes",
        ),
        (
            "web-stopped",
            // The host's own hostname: replayed by mistake, it would change nothing.
            Box::new({
                let a = a2.clone();
                move |r| {
                    r["undo"][0] = serde_json::json!({
                        "undo": "sysctl", "netns": format!("vx.{a}.host"),
                        "key": "kernel.hostname", "value": hn
                    });
                }
            }),
            "is not one the lab's faults set",
        ),
        (
            "web-stopped",
            Box::new(move |r| {
                r["undo"][0] = serde_json::json!({
                    "undo": "add_neigh", "netns": format!("vx.{a2}.host"), "dev": "veth1",
                    "to": "10.9.0.9", "lladdr": "zz:zz"
                });
            }),
            "is not a MAC address",
        ),
    ];
    for (fault, attack, expect) in &attacks {
        let saved = fs::read_to_string(vxlab::fault::record::path(&a, fault)).unwrap();
        let p = tamper(&a, fault, attack);
        let out = vxlab_in(&s.dir, &["fix", a.as_str(), fault]);
        let said = text(&out);
        assert!(
            !out.status.success(),
            "{fault}: tampered record replayed: {said}"
        );
        assert!(said.contains(expect), "{fault}: {said}");
        assert!(
            said.contains(&p.display().to_string()),
            "{fault}: no file named: {said}"
        );
        assert!(
            said.contains(&format!("vxlab down {a}")),
            "{fault}: no way out: {said}"
        );
        assert!(!link_up(&b, "host", "veth1"), "lab {b} was changed");
        assert!(!link_up(&a, "host", "veth1"), "lab {a} was changed");
        assert!(!pwned.exists(), "a command from the record ran");
        assert_eq!(
            fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
            host_name
        );
        fs::write(vxlab::fault::record::path(&a, fault), saved).unwrap();
    }
    // A corrupt record names its file and the way out.
    let p = vxlab::fault::record::path(&a, "port-down");
    let saved = fs::read_to_string(&p).unwrap();
    fs::write(&p, "{").unwrap();
    let out = vxlab_in(&s.dir, &["fix", a.as_str(), "port-down"]);
    let said = text(&out);
    assert!(!out.status.success());
    assert!(
        said.contains(&p.display().to_string()) && said.contains(&format!("vxlab down {a}")),
        "{said}"
    );
    fs::write(&p, saved).unwrap();
    // The genuine records are replayed.
    let out = vxlab_in(&s.dir, &["fix", a.as_str(), "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(link_up(&a, "host", "veth1"));
    assert!(!link_up(&b, "host", "veth1"), "lab {b} was changed");
    println!(
        "{} tampered records refused, the genuine ones replayed",
        attacks.len() + 1
    );
}

#[test]
fn up_clears_the_stale_record_of_a_lab_whose_namespaces_vanished() {
    require_root!();
    let mut s = Scratch::new("stale");
    let lab = s.up("stale", "022");
    let out = vxlab_in(&s.dir, &["break", lab.as_str(), "port-down"]);
    assert!(out.status.success(), "{}", text(&out));
    // The namespaces vanish without `down` (a reboot of the netns mounts, a manual delete).
    vxlab::kernel::teardown(&lab);
    assert!(lifecycle::namespaces_of(&lab).is_empty());
    assert!(vxlab::fault::record::path(&lab, "port-down").exists());
    let out = vxlab_in(&s.dir, &["up", "-q", "--name", lab.as_str(), &s.scenario()]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("stale record"), "{said}");
    let out = vxlab_in(&s.dir, &["break", lab.as_str(), "port-down"]);
    let said = text(&out);
    assert!(out.status.success(), "break after a stale record: {said}");
    assert!(!said.contains("already planted"), "{said}");
}

#[test]
fn a_lab_being_worked_on_does_not_hold_up_another() {
    require_root!();
    let mut s = Scratch::new("locks");
    let busy = unique_name("busy");
    let held = lifecycle::lock(&busy).expect("lock");
    // Returns at once (a shared lock would make it wait for `_held` forever).
    let lab = s.up("free", "022");
    let out = vxlab_in(&s.dir, &["down", lab.as_str()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("waiting"), "{}", text(&out));
    // A lab whose lock is held is not taken.
    assert!(lifecycle::lock_lab(&busy, false).unwrap().is_none());
    held.release_removed();
}

#[test]
fn a_failed_step_says_why_once_then_that_the_lab_was_removed() {
    require_root!();
    let mut s = Scratch::new("words");
    let name = unique_name("words");
    s.labs.push(name.clone());
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(["up", "-q", "--name", name.as_str(), &s.scenario()])
        .env(lifecycle::FAIL_AT_STEP_ENV, "3")
        .output()
        .expect("run vxlab up");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    let cause = "failure injected at this step";
    assert!(
        said.contains(&format!("step 3 of 12 failed because {cause}")),
        "{said}"
    );
    assert_eq!(
        said.matches(cause).count(),
        1,
        "the cause is said twice: {said}"
    );
    assert!(
        said.trim_end()
            .ends_with("everything the lab had created was removed"),
        "{said}"
    );
    assert!(lifecycle::namespaces_of(&name).is_empty());
    assert!(!lifecycle::state_dir(&name).exists());
    // `lint` of a directory says it is one.
    let out = vxlab_in(&s.dir, &["lint", "v"]);
    assert!(text(&out).contains("`v` is a directory"), "{}", text(&out));
}
