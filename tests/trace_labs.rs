//! `vxlab trace` on every shipped lab: a ping along the path its write-up describes is
//! delivered, and the journey shows what happens on the way (encapsulation, bridging,
//! routing). docker-overlay has its own, more detailed tests.

mod common;

use std::process::Command;

use common::TestLab;
use serde_json::Value;

struct Case {
    file: &'static str,
    from: &'static str,
    ping: &'static str,
    /// Substrings that some hop's changes must contain, in path order.
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        file: "bridge-basics.toml",
        from: "host/ns1",
        ping: "170.19.0.2",
        expect: &["bridged by br3"],
    },
    Case {
        file: "vxlan-p2p.toml",
        from: "host1",
        ping: "10.20.1.3",
        expect: &["encapsulated VNI 5", "decapsulated VNI 5"],
    },
    Case {
        file: "vxlan-multicast.toml",
        from: "host1",
        ping: "192.168.1.2",
        expect: &["encapsulated VNI 6", "decapsulated VNI 6"],
    },
    Case {
        file: "vxlan-bridge.toml",
        from: "host1/ns0",
        ping: "192.168.1.12",
        expect: &[
            "bridged by br0",
            "encapsulated VNI 6",
            "decapsulated VNI 6",
            "bridged by br0",
        ],
    },
    Case {
        file: "flannel.toml",
        from: "node1/pod",
        ping: "10.244.2.2",
        expect: &[
            "routed by node1",
            "encapsulated VNI 1",
            "decapsulated VNI 1",
            "routed by node2",
        ],
    },
    Case {
        file: "docker-1.9-overlay.toml",
        from: "host101/net1c1",
        ping: "10.0.0.5",
        expect: &["encapsulated VNI", "decapsulated VNI"],
    },
    Case {
        file: "ovs-vxlan.toml",
        from: "host1/c1",
        ping: "100.1.1.2",
        expect: &["encapsulated VNI 100", "decapsulated VNI 100"],
    },
    Case {
        file: "container-net.toml",
        from: "ubuntu1/ns1",
        ping: "10.233.0.3",
        expect: &[
            "bridged by br0",
            "encapsulated VNI 42",
            "decapsulated VNI 42",
        ],
    },
    Case {
        file: "nat-basics.toml",
        from: "host/ns1",
        ping: "180.76.76.76",
        expect: &["routed by host", "SNAT 170.19.0.1 → 10.0.4.13"],
    },
    Case {
        file: "k8s-iptables.toml",
        from: "node1/pod-a",
        ping: "10.244.2.2",
        expect: &["routed by node1", "routed by node2"],
    },
];

fn trace(lab: &TestLab, from: &str, ping: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args([
            "trace",
            &lab.lab.name,
            "--from",
            from,
            "--ping",
            ping,
            "--json",
        ])
        .output()
        .expect("run vxlab trace");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn every_lab_delivers_its_pings_hop_by_hop() {
    require_root!();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("labs");
    for case in CASES {
        if !dir.join(case.file).exists() {
            eprintln!("skipped {}: the lab is not in this tree", case.file);
            continue;
        }
        if case.file == "flannel.toml" && Command::new("etcd").arg("--version").output().is_err() {
            eprintln!("skipped {}: etcd is not installed", case.file);
            continue;
        }
        if case.file == "ovs-vxlan.toml"
            && Command::new("ovs-vswitchd")
                .arg("--version")
                .output()
                .is_err()
        {
            eprintln!("skipped {}: Open vSwitch is not installed", case.file);
            continue;
        }
        let lab = TestLab::up_file(case.file);
        // Learning labs lose the first echo to ARP resolution, and flannel's agents program
        // the other nodes shortly after `up`: wait until the path works at all.
        let ready = (0..20).any(|_| {
            lab.pings(case.from, case.ping) || {
                std::thread::sleep(std::time::Duration::from_millis(250));
                false
            }
        });
        assert!(
            ready,
            "{}: {} never reached {}",
            case.file, case.from, case.ping
        );
        let v = trace(&lab, case.from, case.ping);
        let journeys = v["journeys"].as_array().expect("journeys");
        let request = journeys
            .iter()
            .find(|j| {
                j["summary"]
                    .as_str()
                    .is_some_and(|s| s.contains("echo request"))
            })
            .unwrap_or_else(|| panic!("{}: no echo request journey: {v}", case.file));
        assert_eq!(
            request["delivered"], true,
            "{}: {}",
            case.file, request["verdict"]
        );
        let changes: Vec<String> = request["hops"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|h| {
                h["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
            })
            .collect();
        let mut at = 0;
        for want in case.expect {
            let found = changes[at..].iter().position(|c| c.contains(want));
            assert!(
                found.is_some(),
                "{}: `{want}` missing after hop change {at}: {changes:#?}",
                case.file
            );
            at += found.unwrap() + 1;
        }
        assert!(
            journeys.iter().any(|j| j["summary"]
                .as_str()
                .is_some_and(|s| s.contains("echo reply"))
                && j["delivered"] == true),
            "{}: the reply came back",
            case.file
        );
        lab.down();
    }
}
