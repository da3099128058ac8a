//! Correlation on synthetic captures: path order by topology despite shuffled clocks,
//! encapsulation and decapsulation, and where a lost packet was last seen.

use std::net::Ipv4Addr;

use super::{Topology, correlate};
use crate::capture::{Dir, Frame, Point};
use crate::decode::DecodeOptions;
use crate::decode::build::{icmp_echo_frame, vxlan_frame};
use crate::model::Lab;

fn lab() -> Lab {
    let text = include_str!("../../labs/docker-overlay.toml");
    Lab::from_source(text).expect("valid")
}

fn pt(node: &str, iface: &str, dir: Dir) -> Point {
    Point {
        node: node.into(),
        netns: String::new(),
        iface: iface.into(),
        dir,
    }
}

/// The hops of container A's ping to container B, with the frame each point sees.
fn path() -> (Vec<Point>, Vec<Vec<u8>>) {
    let a: Ipv4Addr = [10, 0, 0, 4].into();
    let b: Ipv4Addr = [10, 0, 0, 14].into();
    let inner = icmp_echo_frame(a, b, true, 7, 1, b"payload");
    let outer = vxlan_frame(
        [192, 168, 228, 148].into(),
        [192, 168, 228, 149].into(),
        (40000, 4789),
        100,
        &inner,
    );
    let hops = [
        ("hostA/container", "veth105", Dir::Out, false),
        ("hostA/sandbox_2", "veth104", Dir::In, false),
        ("hostA/sandbox_2", "vxlan0", Dir::Out, false),
        ("hostA", "eth0", Dir::Out, true),
        ("underlay", "hostA", Dir::In, true),
        ("underlay", "hostB", Dir::Out, true),
        ("hostB", "eth0", Dir::In, true),
        ("hostB/sandbox_2", "vxlan0", Dir::In, false),
        ("hostB/sandbox_2", "veth104", Dir::Out, false),
        ("hostB/container", "veth105", Dir::In, false),
    ];
    let points = hops.iter().map(|(n, i, d, _)| pt(n, i, *d)).collect();
    let frames = hops
        .iter()
        .map(|h| if h.3 { outer.clone() } else { inner.clone() })
        .collect();
    (points, frames)
}

#[test]
fn hops_follow_the_wiring_even_when_clocks_disagree() {
    let (points, data) = path();
    // Stamps deliberately out of path order at the VXLAN hops.
    let stamps = [100, 110, 190, 150, 160, 170, 180, 260, 200, 210];
    let mut frames: Vec<Frame> = data
        .into_iter()
        .enumerate()
        .map(|(i, d)| Frame {
            point: i,
            ts_ns: stamps[i],
            len: u32::try_from(d.len()).unwrap(),
            data: d,
        })
        .collect();
    frames.reverse();
    let js = correlate(
        &points,
        &frames,
        &Topology::of_lab(&lab()),
        &DecodeOptions::default(),
        Some("hostA/container"),
    );
    assert_eq!(js.len(), 1);
    let j = &js[0];
    let order: Vec<String> = j
        .hops
        .iter()
        .map(|h| format!("{}:{} {}", h.node, h.iface, h.dir.as_str()))
        .collect();
    let want: Vec<String> = points.iter().map(ToString::to_string).collect();
    assert_eq!(order, want);
    assert_eq!(j.hops[2].changes, vec!["bridged by edge_bridge"]);
    assert_eq!(
        j.hops[3].changes,
        vec!["encapsulated VNI 100 192.168.228.148 → 192.168.228.149"]
    );
    assert_eq!(
        j.hops[7].changes,
        vec!["decapsulated VNI 100 from 192.168.228.148"]
    );
    assert!(j.delivered, "{}", j.verdict);
    assert_eq!(
        j.verdict,
        "delivered to hostB/container (10.0.0.14) at veth105"
    );
}

#[test]
fn a_lost_packet_says_where_it_was_last_seen() {
    let (points, data) = path();
    let frames: Vec<Frame> = data
        .into_iter()
        .take(3)
        .enumerate()
        .map(|(i, d)| Frame {
            point: i,
            ts_ns: 100 + i as u64,
            len: 0,
            data: d,
        })
        .collect();
    let js = correlate(
        &points,
        &frames,
        &Topology::of_lab(&lab()),
        &DecodeOptions::default(),
        None,
    );
    assert!(!js[0].delivered);
    assert_eq!(
        js[0].verdict,
        "last seen at hostA/sandbox_2:vxlan0 out; not seen after this hop"
    );
}

#[test]
fn nat_rewrites_are_named_and_the_packet_is_still_recognised() {
    let c: Ipv4Addr = [192, 168, 228, 150].into();
    let before = icmp_echo_frame(c, [192, 168, 228, 148].into(), true, 9, 3, b"x");
    let after = icmp_echo_frame(c, [172, 18, 0, 2].into(), true, 9, 3, b"x");
    let points = vec![
        pt("hostA", "eth0", Dir::In),
        pt("hostA", "pandora_bridge", Dir::Out),
    ];
    let frames = vec![
        Frame {
            point: 0,
            ts_ns: 1,
            len: 0,
            data: before,
        },
        Frame {
            point: 1,
            ts_ns: 2,
            len: 0,
            data: after,
        },
    ];
    let js = correlate(
        &points,
        &frames,
        &Topology::default(),
        &DecodeOptions::default(),
        None,
    );
    assert_eq!(js.len(), 1, "one packet, two sightings");
    assert!(
        js[0].hops[1]
            .changes
            .contains(&"DNAT 192.168.228.148 → 172.18.0.2".to_string()),
        "{:?}",
        js[0].hops[1].changes
    );
}

#[test]
fn open_vswitch_ports_are_bridge_ports_and_the_kernel_datapath_encapsulates() {
    let ovs = Lab::from_source(include_str!("../../labs/ovs-vxlan.toml")).expect("valid");
    let port = |node: &str, iface: &str| (node.to_string(), iface.to_string());
    let kernel = Topology::of_lab(
        &ovs.clone()
            .with_ovs_datapath(crate::model::OvsDatapath::System),
    );
    assert_eq!(
        kernel
            .masters
            .get(&port("host1", "veth-c1"))
            .map(String::as_str),
        Some("br1")
    );
    assert_eq!(
        kernel
            .vxlan_socket
            .get(&port("host1", "vxlan_sys_4789"))
            .map(String::as_str),
        Some("host1")
    );
    let userspace = Topology::of_lab(&ovs.with_ovs_datapath(crate::model::OvsDatapath::Netdev));
    assert_eq!(
        userspace
            .masters
            .get(&port("host2", "eth0"))
            .map(String::as_str),
        Some("br-phy")
    );
    assert!(
        userspace.vxlan_socket.is_empty(),
        "ovs-vswitchd encapsulates, no kernel device"
    );
}
