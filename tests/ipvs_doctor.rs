//! The doctor's IPVS rules on the kernel's IPVS (labs/docker-overlay.toml, seed 000), not
//! its nftables emulation: with `net.ipv4.vs.conntrack` off in a director whose
//! `-m ipvs --ipvs` SNAT rule went through iptables-nft, `vxlab doctor --json` names the
//! sysctl with the command that fixes it, and is clean again once it is fixed (by
//! `vxlab fix`, or by that very command); without the SNAT rules, it names the real
//! servers whose replies bypass the director, and its fix makes the service answer.
//!
//! Needs the kernel's IPVS: outside the VM these skip (saying why) when it is missing;
//! inside it (`VXLAB_IN_VM=1`, `tests/vm/guest-tests`) they fail instead.

mod common;

use std::process::{Command, Output};

use common::TestLab;
use serde_json::Value;

fn lab_text() -> String {
    std::fs::read_to_string(format!(
        "{}/labs/docker-overlay.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn vxlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(args)
        .output()
        .expect("run vxlab")
}

/// `vxlab doctor LAB --json`: its findings, and whether it exited 1 (something found).
fn doctor(lab: &TestLab) -> (Vec<Value>, bool) {
    let out = vxlab(&["doctor", &lab.lab.name, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let findings = v["findings"].as_array().cloned().unwrap_or_default();
    let found = out.status.code() == Some(1);
    assert_eq!(found, !findings.is_empty(), "exit status follows findings");
    (findings, found)
}

/// Whether the client's `curl http://192.168.228.148/` is answered; the answer.
fn fetch(lab: &TestLab) -> Option<String> {
    let out = lab.exec(
        "client",
        &["curl", "-s", "-m", "3", "http://192.168.228.148/"],
    );
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs a fix the doctor printed (a shell command line; `#` lines are comments).
fn run_fix(line: &str) {
    assert!(!line.starts_with('#'), "not a command: {line}");
    let out = Command::new("sh").args(["-c", line]).output().unwrap();
    assert!(
        out.status.success(),
        "`{line}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(String::from))
        .collect()
}

#[test]
fn vs_conntrack_off_is_named_with_its_fix() {
    require_ipvs!();
    let lab = TestLab::up(&lab_text());
    let name = lab.lab.name.clone();
    assert!(
        lab.lab.ipvs.iter().all(|s| !s.emulated),
        "the kernel's IPVS"
    );
    let director = lab.netns("hostA/sandbox_1");
    let rules = lab.ok(
        "hostA/sandbox_1",
        &["iptables", "-t", "nat", "-S", "POSTROUTING"],
    );
    assert!(rules.contains("-m ipvs --ipvs -j SNAT"), "{rules}");
    assert!(fetch(&lab).is_some(), "the healthy lab answers");
    let (healthy, _) = doctor(&lab);
    assert!(healthy.is_empty(), "the healthy lab: {healthy:#?}");

    // Round 1: `vxlab break`, the doctor names it, `vxlab fix` puts it back.
    // Round 2: the same fault, repaired with the doctor's own command.
    for round in ["vxlab fix", "the doctor's fix"] {
        let out = vxlab(&["break", &name, "vs-conntrack-off"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(fetch(&lab), None, "{round}: the fault breaks the service");
        let (findings, found) = doctor(&lab);
        assert!(found);
        let [f] = findings.as_slice() else {
            panic!("{round}: one finding expected: {findings:#?}");
        };
        assert_eq!(f["rule"], "ipvs-conntrack", "{f:#}");
        assert_eq!(f["node"], "hostA/sandbox_1", "{f:#}");
        assert_eq!(f["object"], "net.ipv4.vs.conntrack", "{f:#}");
        let message = f["message"].as_str().unwrap();
        assert!(
            message.contains("SNAT rule (to 10.0.0.2)") && message.contains("is 0"),
            "{message}"
        );
        assert!(
            !message.contains("EMULATED"),
            "the kernel's IPVS, not the emulation: {message}"
        );
        assert_eq!(
            strings(&f["evidence"]),
            [format!(
                "ip netns exec {director} sysctl net.ipv4.vs.conntrack: 0"
            )]
        );
        let fix = strings(&f["fix"]);
        assert_eq!(
            fix,
            [format!(
                "ip netns exec {director} sysctl -w net.ipv4.vs.conntrack=1"
            )]
        );
        if round == "the doctor's fix" {
            run_fix(&fix[0]);
            assert!(
                fetch(&lab).is_some(),
                "the doctor's fix repairs the service"
            );
            assert!(doctor(&lab).0.is_empty(), "clean after the doctor's fix");
        }
        let out = vxlab(&["fix", &name, "vs-conntrack-off"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (after, _) = doctor(&lab);
        assert!(after.is_empty(), "{round}: clean after fixing: {after:#?}");
        assert!(fetch(&lab).is_some(), "{round}: the service answers again");
    }
    lab.down();
}

#[test]
fn real_servers_without_a_return_path_are_named_with_their_fix() {
    require_ipvs!();
    // docker-overlay without its `-m ipvs --ipvs` SNAT rules: the real servers answer
    // the client through their default gateway, not through the director.
    let mut text = lab_text();
    for (node, to) in [("hostA", "10.0.0.2"), ("hostB", "10.0.0.12")] {
        let rule = format!(
            "[[nat]]\nnode = \"{node}/sandbox_1\"\ntype = \"snat\"\ndst = \"10.0.0.0/24\"\nipvs = true\nto = \"{to}\"\n"
        );
        assert!(text.contains(&rule), "{rule}");
        text = text.replace(&rule, "");
    }
    let lab = TestLab::up(&text);
    assert!(lab.lab.ipvs.iter().all(|s| !s.emulated));
    assert_eq!(fetch(&lab), None, "replies bypass the director");

    let (findings, _) = doctor(&lab);
    // hostA's director balances over both containers; neither routes back through it.
    let mine: Vec<&Value> = findings
        .iter()
        .filter(|f| {
            f["rule"] == "ipvs-return-path"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("in hostA/sandbox_1"))
        })
        .collect();
    let mut named: Vec<(String, String)> = mine
        .iter()
        .map(|f| (f["node"].to_string(), f["object"].to_string()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("\"hostA/container\"".into(), "\"10.0.0.4\"".into()),
            ("\"hostB/container\"".into(), "\"10.0.0.14\"".into())
        ],
        "{findings:#?}"
    );
    for f in &mine {
        let node = f["node"].as_str().unwrap();
        assert_eq!(
            strings(&f["fix"])[0],
            format!(
                "ip -n {} route replace default via 10.0.0.2",
                lab.netns(node)
            ),
            "{f:#}"
        );
        run_fix(&strings(&f["fix"])[0]);
    }
    // Routed back through the director, both containers answer, in turn, each seeing the
    // client's own address (nothing SNATs).
    let answers: Vec<String> = (0..4)
        .map(|_| fetch(&lab).expect("the service answers after the doctor's fix"))
        .collect();
    for c in ["hostA/container", "hostB/container"] {
        assert!(
            answers
                .iter()
                .any(|a| a.starts_with(&format!("{c} (client "))),
            "{c} did not answer: {answers:?}"
        );
    }
    assert!(
        answers.iter().all(|a| !a.contains("(client 10.0.0.")),
        "no SNAT: {answers:?}"
    );
    let (after, _) = doctor(&lab);
    assert!(
        !after.iter().any(|f| f["message"]
            .as_str()
            .is_some_and(|m| m.contains("in hostA/sandbox_1"))),
        "hostA's director has its return path: {after:#?}"
    );
    lab.down();
}
