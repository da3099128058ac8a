//! `vxlab exercise` on real namespaces, with the doctor as the student: each exercise
//! plants its fault, its check fails, the commands `vxlab doctor` proposes repair the lab,
//! the check passes, and the grade counts it. Where the doctor has no runnable fix (an
//! emulated IPVS), the exercise is given up and `vxlab` repairs the lab itself.

mod common;

use std::process::{Command, Output};

use common::TestLab;
use serde_json::Value;

fn vxlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(args)
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

/// Why lab `file` cannot run here, if it cannot: the programs it needs.
fn missing_programs(file: &str) -> Option<&'static str> {
    let has = |p: &str| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    match file {
        "flannel" if !has("etcd") => Some("etcd is not installed"),
        "ovs-vxlan" if !has("ovs-vswitchd") => Some("Open vSwitch is not installed"),
        _ => None,
    }
}

/// The doctor's fix commands, comments left out.
fn doctor_fixes(lab: &str) -> Vec<String> {
    let out = vxlab(&["doctor", lab, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["fix"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(str::to_string))
        .filter(|c| !c.starts_with('#'))
        .collect()
}

#[test]
fn the_doctor_s_fixes_pass_every_exercise() {
    require_root!();
    let (mut passed, mut given_up, mut total) = (0, 0, 0_usize);
    // VXLAB_LABS=flannel,ovs-vxlan runs only those.
    let only = std::env::var("VXLAB_LABS").ok();
    for file in [
        "bridge-basics",
        "vxlan-p2p",
        "k8s-iptables",
        "docker-overlay",
        "flannel",
        "ovs-vxlan",
    ] {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|x| x == file))
        {
            continue;
        }
        if let Some(why) = missing_programs(file) {
            eprintln!("skipped {file}: {why}");
            continue;
        }
        let lab = TestLab::up_file(&format!("{file}.toml"));
        // The agents program a fresh flannel lab within moments.
        for x in &lab.lab.exercises {
            let start = std::time::Instant::now();
            while !vxlab::fault::exercise::check(&lab.lab, x).unwrap_or(false)
                && start.elapsed() < std::time::Duration::from_secs(20)
            {
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        }
        let name = lab.lab.name.clone();
        for x in lab.lab.exercises.clone() {
            total += 1;
            let out = vxlab(&["exercise", &name]);
            assert!(out.status.success(), "{}", text(&out));
            assert!(text(&out).contains(&x.name), "{}", text(&out));
            let out = vxlab(&["exercise", &name, "--check"]);
            assert!(
                !out.status.success(),
                "{file} {}: passes before any repair: {}",
                x.name,
                text(&out)
            );
            let fixes = doctor_fixes(&name);
            if fixes.is_empty() {
                let out = vxlab(&["exercise", &name, "--give-up"]);
                assert!(out.status.success(), "{}", text(&out));
                given_up += 1;
                continue;
            }
            for c in &fixes {
                let out = Command::new("sh").args(["-c", c]).output().unwrap();
                assert!(
                    out.status.success(),
                    "{file} {}: `{c}` failed: {}",
                    x.name,
                    text(&out)
                );
            }
            let out = vxlab(&["exercise", &name, "--check"]);
            assert!(
                out.status.success(),
                "{file} {}: the doctor's fixes {fixes:?} did not repair it: {}",
                x.name,
                text(&out)
            );
            passed += 1;
            assert!(
                vxlab::fault::record::planted(&name).is_empty(),
                "a passed exercise leaves no planted fault"
            );
        }
        let out = vxlab(&["exercise", &name, "--grade"]);
        assert!(text(&out).contains("passed"), "{}", text(&out));
        let out = vxlab(&["exercise", &name]);
        assert!(
            text(&out).contains(&format!("exercises of lab `{name}`")),
            "all done: {}",
            text(&out)
        );
    }
    println!(
        "exercises: {passed} passed with the doctor's own fix commands, {given_up} given up (no runnable fix), of {total}"
    );
    assert!(
        passed >= total.saturating_sub(1),
        "at most the emulated-IPVS exercise lacks a runnable fix"
    );
}
