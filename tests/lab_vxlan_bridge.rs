//! labs/vxlan-bridge.toml (seed 002, VXLAN + bridge) on the real kernel: four containers on
//! two machines' br0, joined by the multicast VTEP vxlan1, reach each other; traffic
//! between containers of one machine stays on its bridge; the bridge's FDB points remote
//! containers at vxlan1, and vxlan1's FDB points them at the other machine.

mod common;

use std::time::Duration;

use common::wire::{Capture, encapsulated, mac_of};
use common::{TestLab, root_snapshot};

/// The write-up's containers: node, interface, address.
const CONTAINERS: [(&str, &str, &str); 4] = [
    ("host1/ns0", "veth0", "192.168.1.10"),
    ("host1/ns1", "veth1", "192.168.1.11"),
    ("host2/ns2", "veth2", "192.168.1.12"),
    ("host2/ns3", "veth3", "192.168.1.13"),
];

#[test]
fn containers_of_both_machines_share_one_l2_network() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("vxlan-bridge.toml");
    // Right after `up`, every bridge port forwards: `up` waits for the wires' carriers
    // before the VTEPs join their group.
    for node in ["underlay", "host1", "host2"] {
        let ports = lab.ok(node, &["bridge", "link", "show"]);
        assert!(
            ports.lines().all(|l| l.contains(" state forwarding ")),
            "{node}: {ports}"
        );
    }

    // br0 of each machine: two container veths and vxlan1.
    for (node, ports) in [
        ("host1", ["br0-veth0", "br0-veth1"]),
        ("host2", ["br0-veth2", "br0-veth3"]),
    ] {
        let links = lab.ok(node, &["bridge", "link", "show"]);
        for p in ports.iter().chain(&["vxlan1"]) {
            assert!(
                links
                    .lines()
                    .any(|l| l.contains(&format!(" {p}")) && l.contains(" master br0 ")),
                "{node}: {p} is not a port of br0: {links}"
            );
        }
        let link = lab.ok(node, &["ip", "-d", "link", "show", "vxlan1"]);
        assert!(
            link.contains("vxlan id 6 group 239.1.1.1 dev eth0 ")
                && link.contains(" dstport 4789 "),
            "{node}: {link}"
        );
    }

    // First contact between ns1 and ns0 (same machine), then ns1 -> ns2 (the other one),
    // watched on host1's eth0: the ARP broadcast is flooded to the group, but the echo
    // between ns1 and ns0 never leaves the bridge.
    let cap = Capture::start(&lab, "host1", "eth0", &["udp", "port", "4789"]);
    assert!(
        lab.pings("host1/ns1", "192.168.1.10"),
        "ns1 -> ns0, same machine"
    );
    assert!(
        lab.pings("host1/ns1", "192.168.1.12"),
        "ns1 -> ns2, across VXLAN"
    );
    if let Some(cap) = cap {
        let cross = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.11",
                "10.211.55.12",
                6,
                "IP 192.168.1.11 > 192.168.1.12: ICMP echo request",
            )
        };
        let lines = cap.until(Duration::from_secs(5), |l| cross(l).is_some());
        println!("captured on host1's eth0:\n{}", lines.join("\n"));
        assert!(
            cross(&lines).is_some(),
            "ns1 -> ns2 not encapsulated: {lines:#?}"
        );
        assert!(
            encapsulated(
                &lines,
                "10.211.55.11",
                "239.1.1.1",
                6,
                "ARP, Request who-has 192.168.1.10 tell 192.168.1.11"
            )
            .is_some(),
            "the ARP broadcast was not flooded to the group: {lines:#?}"
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.starts_with("IP 192.168.1.11 > 192.168.1.10: ICMP")
                    || l.starts_with("IP 192.168.1.10 > 192.168.1.11: ICMP")),
            "same-machine echo left host1: {lines:#?}"
        );
    }

    // Every container reaches every other one.
    for (from, _, from_ip) in CONTAINERS {
        for (to, _, to_ip) in CONTAINERS {
            if from != to {
                assert!(
                    lab.pings(from, to_ip),
                    "{from} ({from_ip}) -> {to} ({to_ip})"
                );
            }
        }
    }

    // Two FDBs: br0's says "behind vxlan1" for the other machine's containers and names the
    // local veth for its own; vxlan1's says which VTEP (underlay IP) they are behind.
    for (node, local, remote, peer_ip) in [
        ("host1", &CONTAINERS[..2], &CONTAINERS[2..], "10.211.55.12"),
        ("host2", &CONTAINERS[2..], &CONTAINERS[..2], "10.211.55.11"),
    ] {
        let br = lab.ok(node, &["bridge", "fdb", "show", "br", "br0"]);
        let vx = lab.ok(node, &["bridge", "fdb", "show", "dev", "vxlan1"]);
        for (c, ifname, _) in local {
            let mac = mac_of(&lab, c, ifname);
            let port = format!("br0-{ifname}");
            assert!(
                br.lines()
                    .any(|l| l.trim_end() == format!("{mac} dev {port} master br0")),
                "{node}: {c} ({mac}) not learned on {port}: {br}"
            );
            assert!(
                !vx.lines().any(|l| l.starts_with(&mac)),
                "{node}: local {c} ({mac}) in vxlan1's FDB: {vx}"
            );
        }
        for (c, ifname, _) in remote {
            let mac = mac_of(&lab, c, ifname);
            assert!(
                br.lines()
                    .any(|l| l.trim_end() == format!("{mac} dev vxlan1 master br0")),
                "{node}: {c} ({mac}) not learned on vxlan1: {br}"
            );
            assert!(
                vx.lines()
                    .any(|l| l.trim_end() == format!("{mac} dst {peer_ip} self")),
                "{node}: {c} ({mac}) not learned behind {peer_ip}: {vx}"
            );
        }
        assert!(
            vx.lines()
                .any(|l| l.trim_end() == "00:00:00:00:00:00 dst 239.1.1.1 via eth0 self permanent"),
            "{node}: {vx}"
        );
    }

    lab.down();
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}
