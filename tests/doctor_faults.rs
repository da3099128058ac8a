//! Every fault of every shipped lab, on real namespaces: `vxlab break` really breaks what
//! its description says (a probe that worked fails), `vxlab doctor` names the planted
//! cause, `vxlab fix` puts back exactly what was there (the probe works again, the
//! tables are as before) and the doctor is clean again, as it is on the healthy lab.
//! Prints the doctor's precision and recall over the whole set (`--nocapture`).

mod common;

use std::process::{Command, Output};

use common::TestLab;
use serde_json::Value;
use vxlab::doctor::expected::names_cause;
use vxlab::doctor::{Finding, read::read};
use vxlab::labs::BUILTIN;

fn vxlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(args)
        .output()
        .expect("run vxlab")
}

fn ok(args: &[&str]) -> String {
    let out = vxlab(args);
    assert!(
        out.status.success(),
        "vxlab {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The doctor's findings and its exit status.
fn doctor(lab: &TestLab) -> (Vec<Finding>, Vec<Value>, i32) {
    let out = vxlab(&["doctor", &lab.lab.name, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let raw = v["findings"].as_array().cloned().unwrap_or_default();
    let findings = raw
        .iter()
        .map(|f| Finding {
            rule: f["rule"].as_str().unwrap_or_default().into(),
            node: f["node"].as_str().unwrap_or_default().into(),
            object: f["object"].as_str().unwrap_or_default().into(),
            message: f["message"].as_str().unwrap_or_default().into(),
            evidence: Vec::new(),
            fix: f["fix"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
        })
        .collect();
    (findings, raw, out.status.code().unwrap_or(-1))
}

/// A probe that works on the healthy lab and fails with the fault planted.
fn symptom(lab: &str, fault: &str) -> Option<(&'static str, Vec<&'static str>)> {
    let ping = |ip| vec!["ping", "-c", "1", "-W", "1", ip];
    Some(match (lab, fault) {
        ("docker-overlay", "no-static-arp" | "no-fdb-entry") => {
            ("hostA/container", ping("10.0.0.14"))
        }
        ("docker-overlay", "vs-conntrack-off") => (
            "client",
            vec!["curl", "-sf", "-m", "2", "http://192.168.228.148/"],
        ),
        ("docker-overlay", "underlay-mtu") => (
            "hostA/container",
            vec![
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "-M",
                "do",
                "-s",
                "1400",
                "10.0.0.14",
            ],
        ),
        ("bridge-basics" | "nat-basics", "lo-down") => ("host/ns1", ping("170.19.0.1")),
        ("bridge-basics", "port-down") => ("host/ns1", ping("170.19.0.2")),
        ("k8s-iptables", _) => ("node1/pod-a", ping("10.244.2.2")),
        ("nat-basics", "no-port-mapping") => (
            "outside",
            vec!["curl", "-sf", "-m", "2", "http://10.0.4.13:90/"],
        ),
        ("nat-basics", _) => ("host/ns1", ping("180.76.76.76")),
        ("vxlan-p2p", _) => ("host1", ping("10.20.1.3")),
        ("vxlan-bridge", "port-down") => ("host1/ns1", ping("192.168.1.10")),
        ("vxlan-bridge", _) => ("host1/ns0", ping("192.168.1.12")),
        ("vxlan-multicast", _) => ("host1", ping("192.168.1.2")),
        ("docker-19-overlay", _) => ("host101/net1c1", ping("10.0.0.5")),
        ("flannel", "agent-stopped") => ("node1/pod", ping("10.244.2.2")),
        ("flannel", _) => ("node1/pod", ping("10.244.3.2")),
        ("ovs-vxlan", _) => ("host1/c1", ping("100.1.1.2")),
        _ => return None,
    })
}

fn works(lab: &TestLab, node: &str, argv: &[&str]) -> bool {
    // Learning VTEPs and ARP may need a second try right after a change.
    (0..3).any(|_| lab.exec(node, argv).status.success())
}

/// How long a fault takes to show: a stopped agent's lease outlives it (TTL 10 s), and
/// the agents program a lab that just came up within moments.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(20);

/// Whether `argv` in `node` comes to work (`true`) or to fail (`false`) within
/// [`SETTLE`].
fn comes_to(lab: &TestLab, node: &str, argv: &[&str], work: bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < SETTLE {
        if lab.exec(node, argv).status.success() == work {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    false
}

/// Why lab `short` cannot run here, if it cannot: the programs it needs.
pub fn missing_programs(short: &str) -> Option<&'static str> {
    let has = |p: &str| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    match short {
        "flannel" if !has("etcd") => Some("etcd is not installed"),
        "ovs-vxlan" if !has("ovs-vswitchd") => Some("Open vSwitch is not installed"),
        _ => None,
    }
}

/// The lab's tables, without what moves by itself (learned entries, timers).
fn tables(lab: &TestLab) -> String {
    let snap = common::runtime().block_on(read(&lab.lab));
    let mut out = String::new();
    for n in &snap.nodes {
        let mut links: Vec<String> = n
            .links
            .iter()
            .map(|l| {
                format!(
                    "{} {} up={} mtu={} master={:?} {:?}",
                    l.name, l.mac, l.up, l.mtu, l.master, l.vxlan
                )
            })
            .collect();
        links.sort();
        let mut rows: Vec<String> = n
            .addresses
            .iter()
            .filter(|a| !a.address.starts_with("fe80"))
            .map(|a| format!("{} {}", a.dev, a.address))
            .collect();
        rows.extend(
            n.routes
                .iter()
                .map(|r| format!("route {} {:?} {:?}", r.to, r.via, r.dev)),
        );
        rows.extend(
            n.neighbours
                .iter()
                .filter(|x| x.state == "PERMANENT")
                .map(|x| format!("neigh {} {} {:?}", x.dev, x.to, x.lladdr)),
        );
        rows.extend(
            n.fdb
                .iter()
                .filter(|f| f.state != "dynamic")
                .map(|f| format!("fdb {} {} {:?} self={}", f.dev, f.mac, f.dst, f.self_)),
        );
        rows.extend(
            n.sysctls
                .iter()
                .filter(|(k, _)| !k.contains(".conf."))
                .map(|(k, v)| format!("{k}={v}")),
        );
        rows.extend(n.nat.iter().map(|x| format!("{x:?}")));
        // Servers by command line (a restarted one has another pid), and OVS's config.
        rows.extend(
            n.processes
                .iter()
                .filter(|p| !p.argv.iter().any(|a| a.contains("ethtool")))
                .map(|p| format!("process {}", p.argv[1..].join(" "))),
        );
        if let Some(o) = &n.ovs {
            rows.extend(o.interfaces.iter().map(|i| {
                format!(
                    "ovs {} {} {} {:?} up={}",
                    i.bridge, i.name, i.kind, i.options, i.admin_up
                )
            }));
            rows.extend(o.flows.iter().map(|f| format!("flow {}", f.text)));
        }
        rows.sort();
        out = format!(
            "{out}== {}\n{}\n{}\n",
            n.node,
            links.join("\n"),
            rows.join("\n")
        );
    }
    out
}

#[derive(Default)]
struct Score {
    faults: usize,
    named: usize,
    true_findings: usize,
    false_findings: usize,
    lines: Vec<String>,
}

fn run_lab(file_text: &str, score: &mut Score) {
    let lab = TestLab::up(file_text);
    let name = lab.lab.name.clone();
    let short = vxlab::model::Lab::from_source(file_text).unwrap().name;
    for f in &lab.lab.faults {
        if let Some((node, argv)) = symptom(&short, &f.name) {
            assert!(
                comes_to(&lab, node, &argv, true),
                "{short}: `{}` in {node} never works on the healthy lab",
                argv.join(" ")
            );
        }
    }
    let (healthy, raw, code) = doctor(&lab);
    assert_eq!(
        code,
        i32::from(!healthy.is_empty()),
        "exit status follows findings"
    );
    score.false_findings += healthy.len();
    score.lines.push(format!(
        "{short}: healthy: {} findings {raw:?}",
        healthy.len()
    ));
    let before = tables(&lab);
    for f in lab.lab.faults.clone() {
        let probe = symptom(&short, &f.name);
        if let Some((node, argv)) = &probe {
            assert!(
                works(&lab, node, argv),
                "{short}: before {}: `{}` in {node} fails on the healthy lab",
                f.name,
                argv.join(" ")
            );
        }
        ok(&["break", &name, &f.name]);
        let listed = ok(&["faults", &name]);
        assert!(
            listed.contains(&format!("{} [PLANTED]", f.name)),
            "{listed}"
        );
        if let Some((node, argv)) = &probe {
            assert!(
                comes_to(&lab, node, argv, false),
                "{short} {}: `{}` in {node} still works with the fault planted",
                f.name,
                argv.join(" ")
            );
        }
        let (found, _, code) = doctor(&lab);
        assert_eq!(
            code, 1,
            "{short} {}: doctor exits 1 when it finds something",
            f.name
        );
        let hits = found
            .iter()
            .filter(|x| names_cause(&lab.lab, &f, x))
            .count();
        score.faults += 1;
        score.named += usize::from(hits > 0);
        score.true_findings += hits;
        score.false_findings += found.len() - hits;
        let rules: Vec<String> = found
            .iter()
            .map(|x| format!("{}@{}", x.rule, x.node))
            .collect();
        score.lines.push(format!(
            "{short} {}: {} ({})",
            f.name,
            if hits > 0 { "named" } else { "MISSED" },
            rules.join(", ")
        ));
        assert!(
            hits > 0,
            "{short} {}: the doctor did not name the cause: {rules:?}",
            f.name
        );
        assert!(
            found
                .iter()
                .filter(|x| names_cause(&lab.lab, &f, x))
                .all(|x| !x.fix.is_empty()),
            "every cause comes with a fix"
        );
        ok(&["fix", &name, &f.name]);
        if let Some((node, argv)) = &probe {
            assert!(
                works(&lab, node, argv),
                "{short} {}: `{}` in {node} fails after the fix",
                f.name,
                argv.join(" ")
            );
        }
        assert_eq!(
            tables(&lab),
            before,
            "{short} {}: fix put back exactly what was there",
            f.name
        );
        let (after, raw, code) = doctor(&lab);
        score.false_findings += after.len();
        assert!(
            after.is_empty() && code == 0,
            "{short} {}: doctor not clean after the fix: {raw:?}",
            f.name
        );
    }
    assert!(healthy.is_empty(), "{short}: findings on the healthy lab");
}

#[test]
fn every_fault_of_every_lab_is_found_and_fixed() {
    require_root!();
    let mut score = Score::default();
    // VXLAB_LABS=flannel,ovs-vxlan runs only those.
    let only = std::env::var("VXLAB_LABS").ok();
    for (name, text) in BUILTIN {
        let lab = vxlab::model::Lab::from_source(text).unwrap();
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|x| x == *name))
        {
            continue;
        }
        if lab.faults.is_empty() {
            eprintln!("{name}: no faults declared, skipped");
            continue;
        }
        if let Some(why) = missing_programs(name) {
            eprintln!("skipped {name}: {why}");
            continue;
        }
        run_lab(text, &mut score);
    }
    for l in &score.lines {
        println!("{l}");
    }
    let reported = score.true_findings + score.false_findings;
    #[expect(clippy::cast_precision_loss, reason = "a ratio for display")]
    let (precision, recall) = (
        score.true_findings as f64 / reported.max(1) as f64,
        score.named as f64 / score.faults.max(1) as f64,
    );
    println!(
        "doctor over {} planted faults: recall {:.3} ({}/{} causes named), precision {:.3} ({}/{} findings name a planted cause)",
        score.faults, recall, score.named, score.faults, precision, score.true_findings, reported
    );
    assert!(
        only.is_some() || score.faults >= 15,
        "every shipped fault was exercised"
    );
}

#[test]
fn break_and_fix_refuse_what_makes_no_sense() {
    require_root!();
    let lab = TestLab::up_file("bridge-basics.toml");
    let name = lab.lab.name.clone();
    let out = vxlab(&["break", &name, "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!(
        "lab `{name}` has no fault `nope`; its faults: lo-down, port-down"
    )));
    let out = vxlab(&["fix", &name, "lo-down"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fault `lo-down` is not planted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&["break", &name, "lo-down"]);
    let out = vxlab(&["break", &name, "lo-down"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is already planted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lab.ok("host/ns1", &["ip", "link", "show", "lo"])
            .contains("state DOWN")
    );
    let record = vxlab::fault::record::load(&name, "lo-down")
        .unwrap()
        .expect("recorded before the change");
    assert_eq!(record.undo.len(), 1);
    ok(&["fix", &name, "--all"]);
    assert!(
        !lab.ok("host/ns1", &["ip", "link", "show", "lo"])
            .contains("state DOWN")
    );
    assert!(vxlab::fault::record::planted(&name).is_empty());
}
