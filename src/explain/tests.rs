//! Predictions on the shipped labs' expected tables, without root: the healthy path hop
//! by hop, and where each path-breaking fault, planted in memory, makes it die.

use super::*;
use crate::doctor::expected::{expected, plant};
use crate::labs::builtin;

fn lab(name: &str) -> Lab {
    let lab = Lab::from_source(builtin(name).unwrap()).unwrap();
    if lab.needs_kernel_ipvs() {
        lab.emulate_ipvs()
    } else {
        lab
    }
}

fn ping(from: &str, to: &str) -> Probe {
    Probe {
        from: from.into(),
        to: to.parse().unwrap(),
        proto: Proto::Icmp,
        port: None,
        size: None,
        df: false,
    }
}

fn keys(p: &Prediction) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| format!("{}:{} {}", s.node, s.iface, s.dir.as_str()))
        .collect()
}

#[test]
fn the_overlay_path_is_the_one_the_tracer_sees() {
    let l = lab("docker-overlay");
    let legs = predict(
        &expected(&l),
        &l,
        &ping("hostA/container", "10.0.0.14"),
        &[],
    );
    assert_eq!(
        keys(&legs[0].1),
        [
            "hostA/container:veth105 out",
            "hostA/sandbox_2:veth104 in",
            "hostA/sandbox_2:vxlan0 out",
            "hostA:eth0 out",
            "underlay:hostA in",
            "underlay:hostB out",
            "hostB:eth0 in",
            "hostB/sandbox_2:vxlan0 in",
            "hostB/sandbox_2:veth104 out",
            "hostB/container:veth105 in",
        ]
    );
    assert!(
        matches!(&legs[1].1.end, End::Delivered { node, .. } if node == "hostA/container"),
        "{:?}",
        legs[1].1
    );
}

#[test]
fn the_load_balancer_path_goes_through_ipvs_and_back() {
    let l = lab("docker-overlay");
    let probe = Probe {
        from: "client".into(),
        to: "192.168.228.148".parse().unwrap(),
        proto: Proto::Tcp,
        port: Some(80),
        size: None,
        df: false,
    };
    let legs = predict(&expected(&l), &l, &probe, &["10.0.0.14".parse().unwrap()]);
    assert!(
        matches!(&legs[0].1.end, End::Delivered { node, .. } if node == "hostB/container"),
        "{:#?}",
        legs[0].1
    );
    assert!(
        matches!(&legs[1].1.end, End::Delivered { node, dst, .. } if node == "client" && dst.to_string() == "192.168.228.150"),
        "{:#?}",
        legs[1].1
    );
}

/// `(lab, fault, from, to, port, node of the culprit)`.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<u16>,
    &'static str,
);

/// Where each path-breaking fault makes the walk end: the culprit's node.
const CASES: &[Case] = &[
    (
        "docker-overlay",
        "no-static-arp",
        "hostA/container",
        "10.0.0.14",
        None,
        "hostA/sandbox_2",
    ),
    (
        "docker-overlay",
        "no-fdb-entry",
        "hostA/container",
        "10.0.0.14",
        None,
        "hostA/sandbox_2",
    ),
    (
        "docker-overlay",
        "vs-conntrack-off",
        "client",
        "192.168.228.148",
        Some(80),
        "hostA/sandbox_2",
    ),
    (
        "bridge-basics",
        "lo-down",
        "host/ns1",
        "170.19.0.1",
        None,
        "host/ns1",
    ),
    (
        "bridge-basics",
        "port-down",
        "host/ns1",
        "170.19.0.2",
        None,
        "host",
    ),
    (
        "k8s-iptables",
        "pod-no-default-route",
        "node1/pod-a",
        "10.244.2.2",
        None,
        "node1/pod-a",
    ),
    (
        "k8s-iptables",
        "node-no-forward",
        "node1/pod-a",
        "10.244.2.2",
        None,
        "node2",
    ),
    (
        "k8s-iptables",
        "no-return-route",
        "node1/pod-a",
        "10.244.2.2",
        None,
        "node2",
    ),
    (
        "vxlan-p2p",
        "vni-mismatch",
        "host1",
        "10.20.1.3",
        None,
        "host2",
    ),
    (
        "vxlan-p2p",
        "dstport-mismatch",
        "host1",
        "10.20.1.3",
        None,
        "host2",
    ),
    (
        "vxlan-bridge",
        "vni-mismatch",
        "host1/ns0",
        "192.168.1.12",
        None,
        "host2",
    ),
    (
        "vxlan-bridge",
        "dstport-mismatch",
        "host1/ns0",
        "192.168.1.12",
        None,
        "host2",
    ),
    (
        "vxlan-bridge",
        "port-down",
        "host1/ns1",
        "192.168.1.10",
        None,
        "host1",
    ),
    (
        "vxlan-multicast",
        "vni-mismatch",
        "host1",
        "192.168.1.2",
        None,
        "host2",
    ),
    (
        "nat-basics",
        "lo-down",
        "host/ns1",
        "170.19.0.1",
        None,
        "host/ns1",
    ),
    (
        "nat-basics",
        "no-default-route",
        "host/ns1",
        "180.76.76.76",
        None,
        "host/ns1",
    ),
    (
        "nat-basics",
        "no-forwarding",
        "host/ns1",
        "180.76.76.76",
        None,
        "host",
    ),
    (
        "nat-basics",
        "no-masquerade",
        "host/ns1",
        "180.76.76.76",
        None,
        "outside",
    ),
    (
        "flannel",
        "agent-stopped",
        "node1/pod",
        "10.244.2.2",
        None,
        "node1",
    ),
    (
        "flannel",
        "no-fdb-entry",
        "node1/pod",
        "10.244.3.2",
        None,
        "node1",
    ),
    (
        "flannel",
        "no-arp-entry",
        "node1/pod",
        "10.244.3.2",
        None,
        "node1",
    ),
    (
        "flannel",
        "vni-mismatch",
        "node1/pod",
        "10.244.3.2",
        None,
        "node3",
    ),
    (
        "ovs-vxlan",
        "remote-ip-wrong",
        "host1/c1",
        "100.1.1.2",
        None,
        "host1",
    ),
    (
        "ovs-vxlan",
        "key-mismatch",
        "host1/c1",
        "100.1.1.2",
        None,
        "host2",
    ),
    (
        "ovs-vxlan",
        "port-down",
        "host1/c1",
        "100.1.1.2",
        None,
        "host2",
    ),
];

#[test]
fn healthy_paths_are_delivered_both_ways_and_faults_break_them_where_planted() {
    for &(name, fault, from, to, port, node) in CASES {
        let l = lab(name);
        let probe = Probe {
            from: from.into(),
            to: to.parse().unwrap(),
            proto: if port.is_some() {
                Proto::Tcp
            } else {
                Proto::Icmp
            },
            port,
            size: None,
            df: false,
        };
        let healthy = predict(&expected(&l), &l, &probe, &[]);
        assert_eq!(
            healthy.len(),
            2,
            "{name} {fault}: healthy request delivered: {healthy:#?}"
        );
        assert!(
            matches!(healthy[1].1.end, End::Delivered { .. }),
            "{name} {fault}: healthy reply: {healthy:#?}"
        );
        let f = l.faults.iter().find(|f| f.name == fault).unwrap();
        let legs = predict(&plant(&expected(&l), &l, f), &l, &probe, &[]);
        let dropped = legs.iter().find_map(|(_, p)| match &p.end {
            End::Dropped { culprit, .. } => Some(culprit.clone()),
            End::Delivered { .. } => None,
        });
        let c = dropped.unwrap_or_else(|| panic!("{name} {fault}: still delivered: {legs:#?}"));
        assert_eq!(c.node, node, "{name} {fault}: {c:?}");
    }
}

fn sized(from: &str, to: &str, size: u32, df: bool) -> Probe {
    Probe {
        size: Some(size),
        df,
        ..ping(from, to)
    }
}

fn notice(p: &Prediction) -> Option<Notice> {
    match &p.end {
        End::Dropped { notice, .. } => *notice,
        End::Delivered { .. } => None,
    }
}

#[test]
fn a_packet_too_big_for_the_overlay_dies_where_the_kernel_refuses_it() {
    let l = lab("docker-overlay");
    let healthy = expected(&l);
    let fits = predict(
        &healthy,
        &l,
        &sized("hostA/container", "10.0.0.14", 1422, true),
        &[],
    );
    assert_eq!(fits.len(), 2, "1450 + 50 fits 1500: {fits:#?}");
    // One byte more: the VXLAN driver of a bridge port answers 'frag needed'.
    let big = predict(
        &healthy,
        &l,
        &sized("hostA/container", "10.0.0.14", 1423, true),
        &[],
    );
    assert_eq!(
        notice(&big[0].1),
        Some(Notice::FragNeeded {
            from: "10.0.0.14".parse().unwrap(),
            mtu: 1450
        })
    );
    assert_eq!(
        keys(&big[0].1).last().map(String::as_str),
        Some("hostA/sandbox_2:vxlan0 out")
    );
    // Without DF the outer packet is fragmented and both ways work.
    let frag = predict(
        &healthy,
        &l,
        &sized("hostA/container", "10.0.0.14", 1472, false),
        &[],
    );
    assert!(matches!(frag[1].1.end, End::Delivered { .. }), "{frag:#?}");
    assert!(frag[0].1.notes.iter().any(|n| n.contains("fragments")));

    let f = l.faults.iter().find(|f| f.name == "underlay-mtu").unwrap();
    let broken = plant(&healthy, &l, f);
    let df = predict(
        &broken,
        &l,
        &sized("hostA/container", "10.0.0.14", 1400, true),
        &[],
    );
    assert_eq!(
        notice(&df[0].1),
        Some(Notice::FragNeeded {
            from: "10.0.0.14".parse().unwrap(),
            mtu: 1400
        }),
        "{df:#?}"
    );
    // Without DF the request gets through in fragments, but the reply, sent whole by B's
    // 1500-byte eth0, is too big for A's eth0 to receive.
    let nodf = predict(
        &broken,
        &l,
        &sized("hostA/container", "10.0.0.14", 1400, false),
        &[],
    );
    assert_eq!(nodf.len(), 2, "{nodf:#?}");
    match &nodf[1].1.end {
        End::Dropped { node, iface, .. } => {
            assert_eq!((node.as_str(), iface.as_deref()), ("hostA", Some("eth0")));
        }
        End::Delivered { .. } => panic!("reply delivered: {nodf:#?}"),
    }
}

#[test]
fn a_container_with_mtu_1450_refuses_1423_bytes_with_df() {
    let l = lab("docker-19-overlay");
    let snap = expected(&l);
    let ok = predict(
        &snap,
        &l,
        &sized("host101/net1c1", "10.0.0.5", 1422, true),
        &[],
    );
    assert!(matches!(ok[1].1.end, End::Delivered { .. }), "{ok:#?}");
    let refused = predict(
        &snap,
        &l,
        &sized("host101/net1c1", "10.0.0.5", 1423, true),
        &[],
    );
    assert_eq!(
        notice(&refused[0].1),
        Some(Notice::MessageTooLong { mtu: 1450 })
    );
    assert!(refused[0].1.steps.is_empty(), "nothing leaves");
    let cut = predict(
        &snap,
        &l,
        &sized("host101/net1c1", "10.0.0.5", 1423, false),
        &[],
    );
    assert!(matches!(cut[1].1.end, End::Delivered { .. }), "{cut:#?}");
}

#[test]
fn the_open_vswitch_path_is_the_one_the_tracer_sees() {
    let l = lab("ovs-vxlan");
    let legs = predict(&expected(&l), &l, &ping("host1/c1", "100.1.1.2"), &[]);
    assert_eq!(
        keys(&legs[0].1),
        [
            "host1/c1:eth0 out",
            "host1:veth-c1 in",
            "host1:eth0 out",
            "underlay:host1 in",
            "underlay:host2 out",
            "host2:eth0 in",
            "host2:veth-c1 out",
            "host2/c1:eth0 in",
        ],
        "{legs:#?}"
    );
    assert!(
        matches!(&legs[1].1.end, End::Delivered { node, .. } if node == "host1/c1"),
        "{:#?}",
        legs[1].1
    );
    let cross = predict(&expected(&l), &l, &ping("host1/c1", "100.1.2.1"), &[]);
    assert!(
        matches!(&cross[1].1.end, End::Delivered { .. }),
        "{cross:#?}"
    );
}
