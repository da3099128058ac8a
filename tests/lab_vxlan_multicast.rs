//! labs/vxlan-multicast.toml (seed 002, multicast) on the real kernel: vxlan1 (VNI 6)
//! joins group 239.1.1.1, its FDB starts with only the group as default destination, the
//! first ARP goes to the group, and the peer's MAC is then learned with its underlay IP.

mod common;

use std::time::Duration;

use common::wire::{Capture, encapsulated, mac_of};
use common::{TestLab, root_snapshot};

const GROUP_ENTRY: &str = "00:00:00:00:00:00 dst 239.1.1.1 via eth0 self permanent";

#[test]
fn vteps_find_each_other_through_the_group() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("vxlan-multicast.toml");
    let hosts = [
        ("host1", "10.211.55.11", "192.168.1.1"),
        ("host2", "10.211.55.12", "192.168.1.2"),
    ];

    for (node, _, addr) in hosts {
        let link = lab.ok(node, &["ip", "-d", "link", "show", "vxlan1"]);
        assert!(
            link.contains("vxlan id 6 group 239.1.1.1 dev eth0 ")
                && link.contains(" dstport 4789 "),
            "{node}: {link}"
        );
        let a = lab.ok(node, &["ip", "-4", "-o", "addr", "show", "dev", "vxlan1"]);
        assert!(a.contains(&format!("inet {addr}/24 ")), "{node}: {a}");
        // No remote: the group is the default destination, the FDB's all-zeros entry.
        let fdb = lab.ok(node, &["bridge", "fdb", "show", "dev", "vxlan1"]);
        assert!(
            fdb.lines().any(|l| l.trim_end() == GROUP_ENTRY),
            "{node}: {fdb}"
        );
        // The VTEP joined the group on eth0 (IGMP).
        let maddr = lab.ok(node, &["ip", "-4", "maddr", "show", "dev", "eth0"]);
        assert!(maddr.contains("239.1.1.1"), "{node}: {maddr}");
    }

    // The underlay switch is a plain switch (no IGMP snooping): it floods the group to
    // every host, so no join can be lost to a port that was not forwarding yet.
    let snooping = lab.ok(
        "underlay",
        &["cat", "/sys/class/net/switch/bridge/multicast_snooping"],
    );
    assert_eq!(snooping.trim(), "0");

    // The first ping: its ARP request is flooded to the group; the reply, and the echo
    // request after it, go unicast to the VTEP that was learned. Seen on host2's eth0.
    let mac1 = mac_of(&lab, "host1", "vxlan1");
    let mac2 = mac_of(&lab, "host2", "vxlan1");
    let cap = Capture::start(&lab, "host2", "eth0", &["udp", "port", "4789"]);
    assert!(
        lab.pings("host1", "192.168.1.2"),
        "192.168.1.1 -> 192.168.1.2"
    );
    if let Some(cap) = cap {
        let flooded_request = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.11",
                "239.1.1.1",
                6,
                "ARP, Request who-has 192.168.1.2 tell 192.168.1.1",
            )
        };
        let unicast_reply = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.12",
                "10.211.55.11",
                6,
                &format!("ARP, Reply 192.168.1.2 is-at {mac2}"),
            )
        };
        let unicast_echo = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.11",
                "10.211.55.12",
                6,
                "IP 192.168.1.1 > 192.168.1.2: ICMP echo request",
            )
        };
        let lines = cap.until(Duration::from_secs(5), |l| {
            flooded_request(l).is_some() && unicast_reply(l).is_some() && unicast_echo(l).is_some()
        });
        println!("captured on host2's eth0:\n{}", lines.join("\n"));
        assert!(
            flooded_request(&lines).is_some(),
            "ARP not sent to the group: {lines:#?}"
        );
        assert!(
            unicast_reply(&lines).is_some(),
            "ARP reply not unicast: {lines:#?}"
        );
        assert!(
            unicast_echo(&lines).is_some(),
            "echo not unicast: {lines:#?}"
        );
        // Once learned, nothing more is flooded: no ICMP inside a packet to the group.
        assert!(
            !lines
                .windows(2)
                .any(|w| w[0].contains(" > 239.1.1.1.4789: ") && w[1].contains("ICMP echo")),
            "ICMP went to the group: {lines:#?}"
        );
    }
    assert!(
        lab.pings("host2", "192.168.1.1"),
        "192.168.1.2 -> 192.168.1.1"
    );

    // Each side learned the other's vxlan1 MAC, with the other's underlay IP as dst.
    for ((node, _, _), (peer_mac, peer_ip)) in hosts
        .iter()
        .zip([(&mac2, "10.211.55.12"), (&mac1, "10.211.55.11")])
    {
        let fdb = lab.ok(node, &["bridge", "fdb", "show", "dev", "vxlan1"]);
        let learned = fdb.lines().find(|l| l.starts_with(peer_mac.as_str()));
        assert!(
            learned.is_some_and(|l| l.trim_end() == format!("{peer_mac} dst {peer_ip} self")),
            "{node}: no learned entry for {peer_mac}: {fdb}"
        );
        assert!(
            fdb.lines().any(|l| l.trim_end() == GROUP_ENTRY),
            "{node}: {fdb}"
        );
        // And ARP resolved the peer's address to that MAC.
        let peer_addr = if *node == "host1" {
            "192.168.1.2"
        } else {
            "192.168.1.1"
        };
        let neigh = lab.ok(node, &["ip", "neigh", "show", peer_addr, "dev", "vxlan1"]);
        assert!(
            neigh.contains(&format!("lladdr {peer_mac} ")),
            "{node}: {neigh}"
        );
    }

    lab.down();
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}
