//! `vxlab explain` on real namespaces: on the healthy labs the predicted path is the one a
//! real probe takes, both ways; with each path-breaking fault planted, it points at the
//! node where the path breaks, and the probe agrees. Prints how many it got right
//! (`--nocapture`).

mod common;

use std::process::Command;

use common::TestLab;
use serde_json::Value;

/// `(lab file, fault, from, to, node the culprit must be in)`.
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "docker-overlay",
        "no-static-arp",
        "hostA/container",
        "10.0.0.14",
        "hostA/sandbox_2",
    ),
    (
        "docker-overlay",
        "no-fdb-entry",
        "hostA/container",
        "10.0.0.14",
        "hostA/sandbox_2",
    ),
    (
        "docker-overlay",
        "vs-conntrack-off",
        "client",
        "192.168.228.148:80",
        "sandbox_2",
    ),
    (
        "bridge-basics",
        "lo-down",
        "host/ns1",
        "170.19.0.1",
        "host/ns1",
    ),
    (
        "bridge-basics",
        "port-down",
        "host/ns1",
        "170.19.0.2",
        "host",
    ),
    (
        "k8s-iptables",
        "pod-no-default-route",
        "node1/pod-a",
        "10.244.2.2",
        "node1/pod-a",
    ),
    (
        "k8s-iptables",
        "node-no-forward",
        "node1/pod-a",
        "10.244.2.2",
        "node2",
    ),
    (
        "k8s-iptables",
        "no-return-route",
        "node1/pod-a",
        "10.244.2.2",
        "node2",
    ),
    ("vxlan-p2p", "vni-mismatch", "host1", "10.20.1.3", "host2"),
    (
        "vxlan-p2p",
        "dstport-mismatch",
        "host1",
        "10.20.1.3",
        "host2",
    ),
    (
        "vxlan-bridge",
        "vni-mismatch",
        "host1/ns0",
        "192.168.1.12",
        "host2",
    ),
    (
        "vxlan-bridge",
        "dstport-mismatch",
        "host1/ns0",
        "192.168.1.12",
        "host2",
    ),
    (
        "vxlan-bridge",
        "port-down",
        "host1/ns1",
        "192.168.1.10",
        "host1",
    ),
    (
        "vxlan-multicast",
        "vni-mismatch",
        "host1",
        "192.168.1.2",
        "host2",
    ),
    (
        "nat-basics",
        "lo-down",
        "host/ns1",
        "170.19.0.1",
        "host/ns1",
    ),
    (
        "nat-basics",
        "no-default-route",
        "host/ns1",
        "180.76.76.76",
        "host/ns1",
    ),
    (
        "nat-basics",
        "no-forwarding",
        "host/ns1",
        "180.76.76.76",
        "host",
    ),
    (
        "nat-basics",
        "no-masquerade",
        "host/ns1",
        "180.76.76.76",
        "outside",
    ),
    // node2's agent stopped: once its lease expires, node1 forgets node2's subnet.
    (
        "flannel",
        "agent-stopped",
        "node1/pod",
        "10.244.2.2",
        "node1",
    ),
    (
        "flannel",
        "no-fdb-entry",
        "node1/pod",
        "10.244.3.2",
        "node1",
    ),
    (
        "flannel",
        "no-arp-entry",
        "node1/pod",
        "10.244.3.2",
        "node1",
    ),
    (
        "flannel",
        "vni-mismatch",
        "node1/pod",
        "10.244.3.2",
        "node3",
    ),
    (
        "ovs-vxlan",
        "remote-ip-wrong",
        "host1/c1",
        "100.1.1.2",
        "host1",
    ),
    (
        "ovs-vxlan",
        "key-mismatch",
        "host1/c1",
        "100.1.1.2",
        "host2",
    ),
    ("ovs-vxlan", "port-down", "host1/c1", "100.1.1.2", "host2"),
];

/// Why lab `name` cannot run here, if it cannot: the programs it needs.
fn missing_programs(name: &str) -> Option<&'static str> {
    let has = |p: &str| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    match name {
        "flannel" if !has("etcd") => Some("etcd is not installed"),
        "ovs-vxlan" if !has("ovs-vswitchd") => Some("Open vSwitch is not installed"),
        _ => None,
    }
}

/// Waits until a ping from `from` to `to` works (`true`) or fails (`false`): the agents
/// program a lab that just came up within moments, and a stopped agent's lease outlives
/// it by up to ten seconds.
fn ping_comes_to(lab: &TestLab, from: &str, to: &str, works: bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(20) {
        if lab.pings(from, to) == works {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    false
}

fn vxlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(args)
        .output()
        .expect("run vxlab")
}

fn explain(lab: &TestLab, from: &str, to: &str) -> (Value, i32) {
    let out = vxlab(&[
        "explain",
        &lab.lab.name,
        "--from",
        from,
        "--to",
        to,
        "--json",
    ]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn verdicts(v: &Value) -> String {
    v["legs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| format!("{}: {}", l["leg"], l["verdict"]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn explain_points_at_the_hop_where_each_fault_breaks_the_path() {
    require_root!();
    let (mut right, mut lines) = (0, Vec::new());
    let mut labs: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    labs.dedup();
    // VXLAB_LABS=flannel,ovs-vxlan runs only those.
    let only = std::env::var("VXLAB_LABS").ok();
    for name in labs {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|x| x == name))
        {
            continue;
        }
        if let Some(why) = missing_programs(name) {
            eprintln!("skipped {name}: {why}");
            continue;
        }
        let lab = TestLab::up_file(&format!("{name}.toml"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        for &(_, fault, from, to, node) in CASES.iter().filter(|c| c.0 == name) {
            // A ping probe: wait for the path to work (agents programming a fresh lab).
            let pinged = !to.contains(':');
            assert!(
                !pinged || ping_comes_to(&lab, from, to, true),
                "{name}: {from} never reaches {to}"
            );
            let (healthy, code) = explain(&lab, from, to);
            assert_eq!(
                code,
                0,
                "{name} {fault}: healthy path from {from} to {to}:\n{}",
                verdicts(&healthy)
            );
            assert!(healthy["culprit"].is_null());
            for leg in healthy["legs"].as_array().unwrap() {
                assert!(leg["diverges_at"].is_null(), "{name}: {}", leg["verdict"]);
                // A node's packets to itself go through lo, which is not captured.
                let local = leg["predicted"]["steps"]
                    .as_array()
                    .is_some_and(Vec::is_empty);
                assert!(
                    local || leg["observed_delivered"] == true,
                    "{name} {from}->{to}: {}",
                    leg["verdict"]
                );
            }
            assert_eq!(
                healthy["legs"].as_array().unwrap().len(),
                2,
                "request and reply"
            );
            let out = vxlab(&["break", &lab.lab.name, fault]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !pinged || ping_comes_to(&lab, from, to, false),
                "{name} {fault}: {from} still reaches {to}"
            );
            let (broken, code) = explain(&lab, from, to);
            let culprit = broken["culprit"]["node"]
                .as_str()
                .unwrap_or("none")
                .to_string();
            let ok = code == 1 && culprit.ends_with(node);
            let agree = broken["legs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["diverges_at"].is_null());
            lines.push(format!(
                "{name} {fault}: culprit {culprit} at {} ({}){}",
                broken["culprit"]["object"].as_str().unwrap_or("-"),
                if ok { "right" } else { "WRONG" },
                if agree {
                    ", probe agrees"
                } else {
                    ", probe diverges"
                }
            ));
            right += usize::from(ok);
            assert!(
                ok,
                "{name} {fault}: expected the culprit in {node}:\n{}",
                verdicts(&broken)
            );
            assert!(
                agree,
                "{name} {fault}: prediction and probe disagree:\n{}",
                verdicts(&broken)
            );
            let out = vxlab(&["fix", &lab.lab.name, fault]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    for l in &lines {
        println!("{l}");
    }
    println!(
        "explain: {right}/{} path-breaking faults pointed at the right node",
        lines.len()
    );
}

/// A step of the size test: optionally plant or fix a fault first, then explain a ping of
/// `size` bytes with or without DF, expecting it delivered (`None`) or dead in a node, and
/// what ping is told.
#[derive(Clone, Copy)]
struct Sized {
    before: Option<(&'static str, &'static str)>,
    from: &'static str,
    to: &'static str,
    size: u32,
    df: bool,
    dies_in: Option<&'static str>,
    told: Option<&'static str>,
}

const fn sized(from: &'static str, to: &'static str, size: u32, df: bool) -> Sized {
    Sized {
        before: None,
        from,
        to,
        size,
        df,
        dies_in: None,
        told: None,
    }
}

const fn dies(s: Sized, node: &'static str, told: Option<&'static str>) -> Sized {
    Sized {
        dies_in: Some(node),
        told,
        ..s
    }
}

const fn after(s: Sized, verb: &'static str, fault: &'static str) -> Sized {
    Sized {
        before: Some((verb, fault)),
        ..s
    }
}

#[test]
fn explain_predicts_where_a_packet_too_big_dies_and_the_probe_agrees() {
    require_root!();
    let a = "hostA/container";
    let n = "host101/net1c1";
    let labs: [(&str, Vec<Sized>); 2] = [
        (
            "docker-overlay",
            vec![
                sized(a, "10.0.0.14", 1422, true),
                // 1451 + 50 > 1500: vxlan0, a bridge port, answers 'frag needed'.
                dies(
                    sized(a, "10.0.0.14", 1423, true),
                    "hostA/sandbox_2",
                    Some("Frag needed and DF set (mtu = 1450)"),
                ),
                dies(
                    after(sized(a, "10.0.0.14", 1400, true), "break", "underlay-mtu"),
                    "hostA/sandbox_2",
                    Some("Frag needed and DF set (mtu = 1400)"),
                ),
                // The container learned path MTU 1400: its own stack refuses now.
                dies(
                    sized(a, "10.0.0.14", 1400, true),
                    "hostA/container",
                    Some("message too long, mtu=1400"),
                ),
                // Without DF the request goes in fragments; the reply, whole from B's
                // 1500-byte eth0, is too big for A's eth0 to receive.
                dies(sized(a, "10.0.0.14", 1400, false), "hostA", None),
                after(sized(a, "10.0.0.14", 1400, true), "fix", "underlay-mtu"),
            ],
        ),
        (
            "docker-1.9-overlay",
            vec![
                sized(n, "10.0.0.5", 1422, true),
                dies(
                    sized(n, "10.0.0.5", 1423, true),
                    n,
                    Some("message too long, mtu=1450"),
                ),
                sized(n, "10.0.0.5", 1423, false),
            ],
        ),
    ];
    let mut right = 0;
    let mut total = 0;
    for (file, steps) in &labs {
        let lab = TestLab::up_file(&format!("{file}.toml"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        for s in steps {
            if let Some((verb, fault)) = s.before {
                let out = vxlab(&[verb, &lab.lab.name, fault]);
                assert!(out.status.success(), "{verb} {fault}");
            }
            let size = s.size.to_string();
            let mut args = vec![
                "explain",
                &lab.lab.name,
                "--from",
                s.from,
                "--to",
                s.to,
                "--size",
                &size,
                "--json",
            ];
            if s.df {
                args.push("--df");
            }
            let out = vxlab(&args);
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
            });
            let what = format!(
                "{file}: {} bytes {} from {} to {}",
                s.size,
                if s.df { "DF" } else { "no DF" },
                s.from,
                s.to
            );
            let code = out.status.code().unwrap_or(-1);
            let culprit = v["culprit"]["node"].as_str().map(str::to_string);
            let told = v["ping"]["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ");
            let agree = v["legs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["diverges_at"].is_null());
            println!(
                "{what}: culprit {} ({}), ping: {told}",
                culprit.as_deref().unwrap_or("none"),
                if agree {
                    "probe agrees"
                } else {
                    "probe DIVERGES"
                }
            );
            assert!(agree, "{what}:\n{}", verdicts(&v));
            match s.dies_in {
                None => {
                    assert_eq!(code, 0, "{what}:\n{}", verdicts(&v));
                    assert!(told.contains(" bytes from "), "{what}: {told}");
                }
                Some(node) => {
                    assert_eq!(code, 1, "{what}:\n{}", verdicts(&v));
                    assert_eq!(culprit.as_deref(), Some(node), "{what}:\n{}", verdicts(&v));
                }
            }
            if let Some(t) = s.told {
                assert!(told.contains(t), "{what}: ping said {told:?}");
            }
            total += 1;
            right += usize::from(agree);
        }
    }
    println!("explain --size: {right}/{total} predictions the probe agreed with");
}
