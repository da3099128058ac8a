//! labs/container-net.toml (seed 003): containers of three machines on one L2 network
//! (br0 + multicast vxlan0, VNI 42, group 239.1.1.1), leaving it through their own
//! machine's MASQUERADE; the ping between two of them followed hop by hop by `vxlab trace`.

mod common;

use std::time::Duration;

use common::wire::{Capture, encapsulated, mac_of};
use common::{TestLab, root_snapshot, vxlab};
use serde_json::Value;

/// `(machine, its underlay address, its container's address)`, as in the write-up (the
/// third container's address is the lab's).
const MACHINES: [(&str, &str, &str); 3] = [
    ("ubuntu1", "172.16.1.11", "10.233.0.2"),
    ("ubuntu2", "172.16.1.12", "10.233.0.3"),
    ("ubuntu3", "172.16.1.13", "10.233.0.4"),
];
const OUTSIDE: &str = "203.0.113.10";

fn container(machine: &str) -> String {
    format!("{machine}/ns1")
}

/// The outside machine's answer to `node`'s request: `outside (client IP)`.
fn fetch_outside(lab: &TestLab, node: &str) -> Option<String> {
    let out = lab.exec(
        node,
        &["curl", "-sS", "-m", "2", &format!("http://{OUTSIDE}/")],
    );
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn containers_of_three_machines_share_one_l2_network_over_multicast_vxlan() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("container-net.toml");

    // Each machine: vxlan0 as the write-up creates it, enslaved to br0, which holds the
    // gateway address (the same on every machine); the container's eth0 and its route.
    for (m, _, ip) in MACHINES {
        let vx = lab.ok(m, &["ip", "-d", "-o", "link", "show", "vxlan0"]);
        for want in [
            "master br0",
            "vxlan id 42 group 239.1.1.1 dev eth1",
            "dstport 4789",
        ] {
            assert!(vx.contains(want), "{m}: {want}: {vx}");
        }
        let fdb = lab.ok(m, &["bridge", "fdb", "show", "dev", "vxlan0"]);
        assert!(
            fdb.contains("00:00:00:00:00:00 dst 239.1.1.1"),
            "{m}: {fdb}"
        );
        let br = lab.ok(m, &["ip", "-4", "-o", "addr", "show", "dev", "br0"]);
        assert!(br.contains("inet 10.233.0.1/16 "), "{m}: {br}");
        let c = container(m);
        let eth0 = lab.ok(&c, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
        assert!(eth0.contains(&format!("inet {ip}/16 ")), "{c}: {eth0}");
        let route = lab.ok(&c, &["ip", "route", "show", "default"]);
        assert!(
            route.contains("default via 10.233.0.1 dev eth0"),
            "{c}: {route}"
        );
        let lo = lab.ok(&c, &["ip", "-o", "link", "show", "lo"]);
        assert!(lo.contains(",UP"), "{c}: {lo}");
    }

    // The first ARP request crosses the underlay to the multicast group, not to a host.
    if let Some(cap) = Capture::start(&lab, "ubuntu3", "eth1", &["udp", "port", "4789"]) {
        assert!(
            lab.pings("ubuntu1/ns1", "10.233.0.3"),
            "ubuntu1/ns1 -> ubuntu2/ns1"
        );
        let lines = cap.until(Duration::from_secs(3), |l| {
            encapsulated(
                l,
                "172.16.1.11",
                "239.1.1.1",
                42,
                "ARP, Request who-has 10.233.0.3 tell 10.233.0.2",
            )
            .is_some()
        });
        assert!(
            encapsulated(
                &lines,
                "172.16.1.11",
                "239.1.1.1",
                42,
                "ARP, Request who-has 10.233.0.3 tell 10.233.0.2"
            )
            .is_some(),
            "{lines:?}"
        );
    }

    // Every container reaches every other one, and its gateway.
    for (from, _, _) in MACHINES {
        for (to, _, ip) in MACHINES {
            if from != to {
                assert!(
                    lab.pings(&container(from), ip),
                    "{from}/ns1 -> {to}/ns1 ({ip})"
                );
            }
        }
        assert!(
            lab.pings(&container(from), "10.233.0.1"),
            "{from}/ns1 -> gateway"
        );
    }
    // Each learned the others' MACs through vxlan0, pointing at their machines.
    let fdb = lab.ok("ubuntu1", &["bridge", "fdb", "show", "dev", "vxlan0"]);
    for (m, underlay, _) in &MACHINES[1..] {
        let mac = mac_of(&lab, &container(m), "eth0");
        assert!(
            fdb.contains(&format!("{mac} dst {underlay} ")),
            "{m}: {fdb}"
        );
    }

    lab.down();
    assert_eq!(before, root_snapshot());
}

#[test]
fn containers_reach_the_outside_through_their_machines_masquerade() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("container-net.toml");

    for (m, underlay, _) in MACHINES {
        let c = container(m);
        assert!(lab.pings(&c, OUTSIDE), "{c} -> outside");
        // The outside machine sees the container's machine, not 10.233.0.x.
        assert_eq!(
            fetch_outside(&lab, &c).as_deref(),
            Some(format!("outside (client {underlay})").as_str()),
            "{c}"
        );
        let rules = lab.ok(m, &["nft", "list", "ruleset"]);
        assert!(
            rules.contains("ip saddr 10.233.0.0/16 ip daddr != 10.233.0.0/16"),
            "{m}: {rules}"
        );
        assert!(rules.contains("masquerade"), "{m}: {rules}");
    }
    // On the outside machine's wire: the ping comes from ubuntu2's underlay address.
    if let Some(cap) = Capture::start(&lab, "outside", "eth1", &["icmp"]) {
        assert!(lab.pings("ubuntu2/ns1", OUTSIDE));
        let lines = cap.until(Duration::from_secs(3), |l| l.len() >= 2);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("IP 172.16.1.12 > {OUTSIDE}: ICMP echo request"))),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.contains("10.233.")), "{lines:?}");
    }

    lab.down();
    assert_eq!(before, root_snapshot());
}

/// The write-up's anycast gateway: ubuntu1 talking to ubuntu2's container moves that
/// container's gateway to ubuntu1's br0 (ARP "who-has 10.233.0.3 tell 10.233.0.1"), and its
/// outside traffic then leaves through ubuntu1. That works only with bridged frames kept
/// out of iptables (`bridge-nf-call-iptables = 0`, the write-up's machines have no
/// `br_netfilter`): otherwise ubuntu2's MASQUERADE rewrites the bridged frame to
/// 10.233.0.1, which ubuntu1 drops.
#[test]
fn anycast_gateway_a_machine_pinging_a_remote_container_becomes_its_gateway() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("container-net.toml");

    assert!(lab.pings("ubuntu1", "10.233.0.3"), "ubuntu1 -> ubuntu2/ns1");
    let gw = lab.ok("ubuntu2/ns1", &["ip", "neigh", "show", "10.233.0.1"]);
    let br0 = mac_of(&lab, "ubuntu1", "br0");
    assert!(
        gw.contains(&format!("lladdr {br0} ")),
        "ubuntu1's br0 is {br0}: {gw}"
    );
    assert_eq!(
        fetch_outside(&lab, "ubuntu2/ns1").as_deref(),
        Some("outside (client 172.16.1.11)")
    );

    let nf = |v: &str| {
        lab.ok(
            "ubuntu2",
            &[
                "sysctl",
                "-qw",
                &format!("net.bridge.bridge-nf-call-iptables={v}"),
            ],
        );
    };
    nf("1");
    assert_eq!(
        fetch_outside(&lab, "ubuntu2/ns1"),
        None,
        "bridged frames masqueraded"
    );
    nf("0");
    assert_eq!(
        fetch_outside(&lab, "ubuntu2/ns1").as_deref(),
        Some("outside (client 172.16.1.11)")
    );

    lab.down();
    assert_eq!(before, root_snapshot());
}

#[test]
fn nat_out_faults_cut_only_ubuntu1s_container_off() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("container-net.toml");
    let name = lab.lab.name.clone();
    for fault in ["no-masquerade", "no-forwarding"] {
        vxlab(&["break", &name, fault]);
        assert!(
            !lab.pings("ubuntu1/ns1", OUTSIDE),
            "{fault}: ubuntu1/ns1 -> outside"
        );
        assert!(
            lab.pings("ubuntu1/ns1", "10.233.0.3"),
            "{fault}: ubuntu1/ns1 -> ubuntu2/ns1"
        );
        assert!(
            lab.pings("ubuntu2/ns1", OUTSIDE),
            "{fault}: ubuntu2/ns1 -> outside"
        );
        vxlab(&["fix", &name, fault]);
        assert!(
            lab.pings("ubuntu1/ns1", OUTSIDE),
            "fixed {fault}: ubuntu1/ns1 -> outside"
        );
    }
    lab.down();
    assert_eq!(before, root_snapshot());
}

fn hops(j: &Value) -> Vec<String> {
    j["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| {
            format!(
                "{}:{} {}",
                h["node"].as_str().unwrap(),
                h["iface"].as_str().unwrap(),
                h["dir"].as_str().unwrap()
            )
        })
        .collect()
}

/// Whether `want` appears in `have` in this order (other hops may come between).
fn in_order(have: &[String], want: &[&str]) -> bool {
    let mut it = have.iter();
    want.iter().all(|w| it.any(|h| h == w))
}

/// The write-up's ping path: container -> veth0 -> br0 -> vxlan0 -> eth1 (encapsulated
/// to ubuntu2) -> underlay -> ubuntu2's eth1 -> vxlan0 (decapsulated) -> br0 -> container.
#[test]
fn trace_follows_the_ping_from_container_to_container_over_vxlan0() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("container-net.toml");
    let out = vxlab(&[
        "trace",
        &lab.lab.name,
        "--from",
        "ubuntu1/ns1",
        "--ping",
        "10.233.0.3",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(v["probe_error"].is_null(), "{}", v["probe_error"]);
    let journeys = v["journeys"].as_array().expect("journeys");
    let request = journeys
        .iter()
        .find(|j| {
            j["summary"]
                .as_str()
                .unwrap()
                .contains("10.233.0.2 > 10.233.0.3: ICMP echo request")
        })
        .expect("request journey");
    let reply = journeys
        .iter()
        .find(|j| {
            j["summary"]
                .as_str()
                .unwrap()
                .contains("10.233.0.3 > 10.233.0.2: ICMP echo reply")
        })
        .expect("reply journey");

    let path = hops(request);
    let want = [
        "ubuntu1/ns1:eth0 out",
        "ubuntu1:veth0 in",
        "ubuntu1:vxlan0 out",
        "ubuntu1:eth1 out",
        "underlay:ubuntu1 in",
        "underlay:ubuntu2 out",
        "ubuntu2:eth1 in",
        "ubuntu2:vxlan0 in",
        "ubuntu2:veth0 out",
        "ubuntu2/ns1:eth0 in",
    ];
    assert!(in_order(&path, &want), "{path:#?}");
    assert!(
        !path.iter().any(|h| h.starts_with("ubuntu3")),
        "unicast once learned: {path:#?}"
    );
    let hop = |name: &str| &request["hops"][path.iter().position(|h| h == name).unwrap()];
    let vx_out = hop("ubuntu1:vxlan0 out");
    assert!(
        vx_out["changes"].to_string().contains("bridged by br0"),
        "{vx_out}"
    );
    let encap = hop("ubuntu1:eth1 out");
    assert_eq!(encap["encap"]["vni"], 42, "{encap}");
    assert_eq!(encap["encap"]["outer_src"], "172.16.1.11", "{encap}");
    assert_eq!(encap["encap"]["outer_dst"], "172.16.1.12", "{encap}");
    assert!(
        hop("ubuntu2:vxlan0 in")["changes"][0]
            .as_str()
            .unwrap()
            .starts_with("decapsulated VNI 42")
    );
    // Container to container is not NATed: the same addresses at both ends.
    assert!(!request["hops"].to_string().contains("SNAT"), "{request}");
    assert_eq!(request["delivered"], true, "{request}");
    assert_eq!(reply["delivered"], true, "{reply}");
    let back = hops(reply);
    assert_eq!(
        back.first().map(String::as_str),
        Some("ubuntu2/ns1:eth0 out")
    );
    assert_eq!(back.last().map(String::as_str), Some("ubuntu1/ns1:eth0 in"));

    lab.down();
    assert_eq!(before, root_snapshot());
}
