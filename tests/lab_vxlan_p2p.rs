//! labs/vxlan-p2p.toml (seed 002, point to point) on the real kernel: vxlan0 with VNI 5
//! and a fixed remote carries pings between the two machines, really encapsulated in UDP
//! port 4789 on the underlay, and a VNI mismatch breaks it.

mod common;

use std::time::Duration;

use common::wire::{Capture, counter, encapsulated};
use common::{TestLab, root_snapshot};

#[test]
fn vxlan0_carries_pings_between_the_two_machines() {
    require_root!();
    let before = root_snapshot();
    let lab = TestLab::up_file("vxlan-p2p.toml");

    // Over the overlay, both ways.
    assert!(lab.pings("host1", "10.20.1.3"), "10.20.1.2 -> 10.20.1.3");
    assert!(lab.pings("host2", "10.20.1.2"), "10.20.1.3 -> 10.20.1.2");

    // The write-up's device, as the kernel reports it.
    for (node, me, peer) in [
        ("host1", "10.211.55.11", "10.211.55.12"),
        ("host2", "10.211.55.12", "10.211.55.11"),
    ] {
        let link = lab.ok(node, &["ip", "-d", "link", "show", "vxlan0"]);
        assert!(
            link.contains(&format!("vxlan id 5 remote {peer} local {me} dev eth0 ")),
            "{node}: {link}"
        );
        assert!(link.contains(" dstport 4789 "), "{node}: {link}");
        // The fixed remote is the all-zeros default entry of vxlan0's FDB.
        let fdb = lab.ok(node, &["bridge", "fdb", "show", "dev", "vxlan0"]);
        assert!(
            fdb.lines()
                .any(|l| l.trim_end()
                    == format!("00:00:00:00:00:00 dst {peer} via eth0 self permanent")),
            "{node}: {fdb}"
        );
    }
    let addr = lab.ok(
        "host1",
        &["ip", "-4", "-o", "addr", "show", "dev", "vxlan0"],
    );
    assert!(addr.contains("inet 10.20.1.2/24 "), "{addr}");
    // The overlay subnet is reached through vxlan0, not the underlay.
    let route = lab.ok("host1", &["ip", "route", "get", "10.20.1.3"]);
    assert!(route.contains("dev vxlan0"), "{route}");

    // Each overlay packet is one more packet on the underlay's eth0.
    let (tx_vx, tx_eth) = (
        counter(&lab, "host1", "vxlan0", "tx_packets"),
        counter(&lab, "host1", "eth0", "tx_packets"),
    );
    lab.ok(
        "host1",
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.20.1.3"],
    );
    let (dvx, deth) = (
        counter(&lab, "host1", "vxlan0", "tx_packets") - tx_vx,
        counter(&lab, "host1", "eth0", "tx_packets") - tx_eth,
    );
    assert!(dvx >= 3, "vxlan0 sent {dvx} packets for 3 pings");
    assert!(deth >= dvx, "eth0 sent {deth} packets, vxlan0 {dvx}");

    // On the wire (host2's eth0): UDP to port 4789, VNI 5, the ICMP inside.
    if let Some(cap) = Capture::start(&lab, "host2", "eth0", &["udp", "port", "4789"]) {
        lab.ok("host1", &["ping", "-c", "1", "-W", "1", "10.20.1.3"]);
        let req = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.11",
                "10.211.55.12",
                5,
                "IP 10.20.1.2 > 10.20.1.3: ICMP echo request",
            )
        };
        let rep = |l: &[String]| {
            encapsulated(
                l,
                "10.211.55.12",
                "10.211.55.11",
                5,
                "IP 10.20.1.3 > 10.20.1.2: ICMP echo reply",
            )
        };
        let lines = cap.until(Duration::from_secs(5), |l| {
            req(l).is_some() && rep(l).is_some()
        });
        assert!(req(&lines).is_some(), "no encapsulated request: {lines:#?}");
        assert!(rep(&lines).is_some(), "no encapsulated reply: {lines:#?}");
        println!("captured on host2's eth0:\n{}", lines.join("\n"));
    }

    lab.down();
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}

#[test]
fn vtep_with_another_vni_drops_everything() {
    require_root!();
    let before = root_snapshot();
    let path = format!("{}/labs/vxlan-p2p.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("read the lab");
    // host2's vxlan0 (the second one in the file) gets VNI 7 instead of 5.
    let at = text.rfind("vni = 5").expect("host2's vni");
    let text = format!("{}vni = 7{}", &text[..at], &text[at + "vni = 5".len()..]);
    let lab = TestLab::up(&text);
    let link = lab.ok("host2", &["ip", "-d", "link", "show", "vxlan0"]);
    assert!(link.contains("vxlan id 7 "), "{link}");

    let rx_eth = counter(&lab, "host2", "eth0", "rx_packets");
    assert!(
        !lab.pings("host1", "10.20.1.3"),
        "VNI 5 and VNI 7 must not talk"
    );
    // host1's frames reached host2's eth0, but no VTEP there takes VNI 5.
    let got = counter(&lab, "host2", "eth0", "rx_packets") - rx_eth;
    assert!(got >= 1, "nothing reached host2's eth0");
    assert_eq!(
        counter(&lab, "host2", "vxlan0", "rx_packets"),
        0,
        "host2's vxlan0 (VNI 7) received VNI 5 traffic"
    );

    lab.down();
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}
