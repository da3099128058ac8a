//! Whole-frame decoder tests with hand-built frames.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::build::{
    Ipv4Builder, TcpBuilder, arp, ethernet, ethernet_vlan, icmp_echo, icmp_echo_frame, icmpv6_echo,
    igmp, ipv6, mac_for, udp, vxlan_frame,
};
use super::*;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 4);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 14);
const HOST_A: Ipv4Addr = Ipv4Addr::new(192, 168, 228, 148);
const HOST_B: Ipv4Addr = Ipv4Addr::new(192, 168, 228, 149);

/// An ICMP echo request 10.0.0.4 > 10.0.0.14 (id 7, seq 1, payload "abcd"), written out by
/// hand with checksums computed independently, padded to the 60-byte Ethernet minimum.
const ECHO_FRAME: [u8; 60] = [
    0x02, 0x42, 0x0a, 0x00, 0x00, 0x0e, 0x02, 0x42, 0x0a, 0x00, 0x00, 0x04, 0x08, 0x00, // eth
    0x45, 0x00, 0x00, 0x20, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x86, // ip
    0x0a, 0x00, 0x00, 0x04, 0x0a, 0x00, 0x00, 0x0e, // ip addresses
    0x08, 0x00, 0x33, 0x31, 0x00, 0x07, 0x00, 0x01, b'a', b'b', b'c', b'd', // icmp
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding
];

fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

fn names(p: &Packet<'_>) -> Vec<&'static str> {
    p.layers.iter().map(Layer::name).collect()
}

#[test]
fn icmp_echo_literal_frame() {
    let p = decode(&ECHO_FRAME, &opts());
    assert_eq!(p.error, None);
    assert_eq!(names(&p), ["Ethernet", "IPv4", "ICMP", "Payload"]);
    let ip = p.ipv4().unwrap();
    assert!(ip.checksum_valid);
    assert_eq!((ip.id, ip.ttl, ip.total_len), (0x1c46, 64, 32));
    assert_eq!(
        p.payload(),
        Some(&b"abcd"[..]),
        "Ethernet padding is not payload"
    );
    assert_eq!(
        p.spans,
        [
            Span { offset: 0, len: 14 },
            Span {
                offset: 14,
                len: 20
            },
            Span { offset: 34, len: 8 },
            Span { offset: 42, len: 4 },
        ]
    );
    assert_eq!(
        p.summary(),
        "10.0.0.4 > 10.0.0.14: ICMP echo request id 7 seq 1 ttl 64"
    );
    assert_eq!(p.ethernet().unwrap().src.to_string(), "02:42:0a:00:00:04");
    // The builder produces the same bytes (before padding).
    let mut ip = Ipv4Builder::new(A, B, IpProto::ICMP);
    ip.id = 0x1c46;
    let built = ethernet(
        mac_for(B),
        mac_for(A),
        EtherType::IPV4,
        &ip.build(&icmp_echo(true, 7, 1, b"abcd")),
    );
    assert_eq!(built, ECHO_FRAME[..46]);
    assert!(p.outer().len() == 4 && p.inner().is_none() && p.vxlan().is_none());
}

#[test]
fn truncated_frames_decode_as_far_as_possible() {
    let cases: [(usize, &[&str], &str, usize); 5] = [
        (10, &[], "Ethernet", 0),
        (20, &["Ethernet"], "IPv4", 14),
        (38, &["Ethernet", "IPv4"], "ICMP", 34),
        // Payload cut short: all headers decode, the IPv4 total length is the complaint.
        (44, &["Ethernet", "IPv4", "ICMP", "Payload"], "IPv4", 14),
        (0, &[], "Ethernet", 0),
    ];
    for (cut, layers, layer, offset) in cases {
        let p = decode(&ECHO_FRAME[..cut], &opts());
        assert_eq!(names(&p), layers, "cut at {cut}");
        let e = p.error.clone().unwrap();
        assert_eq!((e.layer, e.offset), (layer, offset), "cut at {cut}: {e}");
        assert!(matches!(e.reason, ErrorReason::Truncated { .. }));
        assert!(p.summary().contains('['), "{}", p.summary());
    }
    let p = decode(&ECHO_FRAME[..20], &opts());
    assert_eq!(
        p.error.unwrap().reason,
        ErrorReason::Truncated {
            needed: 20,
            available: 6
        }
    );
    let p = decode(&ECHO_FRAME[..44], &opts());
    assert_eq!(p.payload(), Some(&b"ab"[..]));
    assert_eq!(
        p.error.unwrap().to_string(),
        "IPv4 at offset 14: truncated: need 32 bytes, have 30"
    );
}

fn inner_icmp() -> Vec<u8> {
    icmp_echo_frame(A, B, true, 7, 1, b"ping payload")
}

#[test]
fn vxlan_with_inner_icmp() {
    let f = vxlan_frame(HOST_A, HOST_B, (51234, 4789), 100, &inner_icmp());
    let p = decode(&f, &opts());
    assert_eq!(p.error, None);
    assert_eq!(
        names(&p),
        [
            "Ethernet", "IPv4", "UDP", "VXLAN", "Ethernet", "IPv4", "ICMP", "Payload"
        ]
    );
    assert_eq!(p.vxlan().unwrap().vni, 100);
    assert!(p.vxlan().unwrap().vni_valid);
    assert_eq!(p.outer().len(), 3);
    assert_eq!(p.inner().unwrap().len(), 4);
    assert_eq!(p.ipv4().unwrap().src, A, "ipv4() is the innermost");
    assert_eq!(p.udp(), None, "no UDP in the inner frame");
    assert_eq!(p.spans[4].offset, 50);
    assert_eq!(
        p.summary(),
        "192.168.228.148:51234 > 192.168.228.149:4789 VXLAN vni 100 | \
         10.0.0.4 > 10.0.0.14: ICMP echo request id 7 seq 1 ttl 64"
    );
    let key = p.inner_key().unwrap();
    let inner = inner_icmp();
    let plain = decode(&inner, &opts());
    assert_eq!(
        Some(key),
        plain.inner_key(),
        "encapsulation keeps the inner key"
    );
    assert_eq!(key.src, std::net::IpAddr::from(A));
    assert_eq!(
        key.payload_len,
        8 + 12,
        "ICMP header and payload, as IP declares them"
    );
}

#[test]
fn a_big_packet_cut_by_the_snap_length_keeps_its_key_through_encapsulation() {
    let data: Vec<u8> = (0..1000u16).map(|i| (i % 251) as u8).collect();
    let plain = icmp_echo_frame(A, B, true, 7, 1, &data);
    let tunnelled = vxlan_frame(HOST_A, HOST_B, (51234, 4789), 100, &plain);
    let snap = 512;
    let keys: Vec<FlowKey> = [&plain[..snap], &tunnelled[..snap], &plain[..]]
        .iter()
        .map(|f| decode(f, &opts()).inner_key().expect("an IP packet"))
        .collect();
    assert_eq!(
        keys[0], keys[1],
        "cut at 512 bytes, with and without 50 bytes of VXLAN"
    );
    assert_eq!(keys[0], keys[2], "cut or whole");
    assert_eq!(keys[0].payload_len, 8 + 1000);
    let other = icmp_echo_frame(A, B, true, 7, 1, &data[1..]);
    assert_ne!(
        decode(&other[..snap], &opts()).inner_key(),
        Some(keys[0]),
        "a different length is a different packet"
    );
}

#[test]
fn vxlan_with_inner_arp_on_8472() {
    let req = arp(1, mac_for(A), A, MacAddr::ZERO, B);
    let inner = ethernet(MacAddr::BROADCAST, mac_for(A), EtherType::ARP, &req);
    let f = vxlan_frame(HOST_A, HOST_B, (40000, 8472), 1, &inner);
    let p = decode(&f, &opts());
    assert_eq!(p.error, None);
    assert_eq!(
        names(&p),
        ["Ethernet", "IPv4", "UDP", "VXLAN", "Ethernet", "ARP"]
    );
    let a = p.arp().unwrap();
    assert_eq!((a.op, a.sender_ip, a.target_ip), (Arp::REQUEST, A, B));
    assert_eq!(p.ipv4(), None, "the innermost frame has no IPv4");
    assert_eq!(p.inner_key(), None);
    assert_eq!(
        p.summary(),
        "192.168.228.148:40000 > 192.168.228.149:8472 VXLAN vni 1 | ARP who-has 10.0.0.14 tell 10.0.0.4"
    );
    // Not decoded as VXLAN when 8472 is not configured.
    let p = decode(&f, &DecodeOptions::with_vxlan_ports([4789]));
    assert_eq!(names(&p), ["Ethernet", "IPv4", "UDP", "Payload"]);
    // A reply.
    let rep = arp(2, mac_for(B), B, mac_for(A), A);
    let f = ethernet(mac_for(A), mac_for(B), EtherType::ARP, &rep);
    let p = decode(&f, &opts());
    assert_eq!(p.summary(), "ARP 10.0.0.14 is-at 02:42:0a:00:00:0e");
}

#[test]
fn vxlan_truncated_inside() {
    let f = vxlan_frame(HOST_A, HOST_B, (1, 4789), 5, &inner_icmp());
    // Cut inside the inner IPv4 header.
    let p = decode(&f[..70], &opts());
    assert_eq!(names(&p), ["Ethernet", "IPv4", "UDP", "VXLAN", "Ethernet"]);
    let e = p.error.clone().unwrap();
    assert_eq!((e.layer, e.offset), ("IPv4", 64));
    assert!(
        p.summary()
            .ends_with("[IPv4 at offset 64: truncated: need 20 bytes, have 6]")
    );
}

#[test]
fn nesting_limit() {
    let mut f = inner_icmp();
    for _ in 0..6 {
        f = vxlan_frame(HOST_A, HOST_B, (1, 4789), 9, &f);
    }
    let p = decode(&f, &opts());
    let e = p.error.unwrap();
    assert_eq!(e.reason, ErrorReason::TooDeep { limit: 4 });
    assert_eq!(e.layer, "Ethernet");
    assert_eq!(p.layers.iter().filter(|l| l.name() == "VXLAN").count(), 5);
    let deep = DecodeOptions {
        max_depth: 6,
        ..opts()
    };
    let p = decode(&f, &deep);
    assert_eq!(p.error, None);
    assert_eq!(p.icmp().unwrap().seq, Some(1));
}

#[test]
fn vlan_and_qinq() {
    let ip = Ipv4Builder::new(A, B, IpProto::ICMP).build(&icmp_echo(false, 3, 4, b""));
    let tags = [(EtherType::QINQ, 10), (EtherType::VLAN, 200)];
    let f = ethernet_vlan(mac_for(B), mac_for(A), &tags, EtherType::IPV4, &ip);
    let p = decode(&f, &opts());
    assert_eq!(p.error, None);
    assert_eq!(names(&p), ["Ethernet", "VLAN", "VLAN", "IPv4", "ICMP"]);
    let Layer::Vlan(outer) = &p.layers[1] else {
        panic!()
    };
    assert_eq!((outer.tpid, outer.vid), (EtherType::QINQ, 10));
    assert_eq!(
        p.summary(),
        "vlan 10, vlan 200, 10.0.0.4 > 10.0.0.14: ICMP echo reply id 3 seq 4 ttl 64"
    );
}

#[test]
fn tcp_syn() {
    let mut t = TcpBuilder::new(40000, 80, TcpFlags::SYN);
    t.seq = 1000;
    t.options = vec![2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7];
    let seg = t.build(A.into(), B.into(), b"");
    assert_eq!(transport_checksum(A.into(), B.into(), 6, &seg), 0);
    let f = ethernet(
        mac_for(B),
        mac_for(A),
        EtherType::IPV4,
        &Ipv4Builder::new(A, B, IpProto::TCP).build(&seg),
    );
    let p = decode(&f, &opts());
    assert_eq!(p.error, None);
    let tcp = p.tcp().unwrap();
    assert_eq!(tcp.options.mss, Some(1460));
    assert_eq!(tcp.options.window_scale, Some(7));
    assert_eq!(tcp.header_len, 32);
    assert_eq!(
        p.summary(),
        "10.0.0.4:40000 > 10.0.0.14:80: TCP [S] seq 1000 win 64240 len 0 ttl 64"
    );
    let k = p.inner_key().unwrap();
    assert!(matches!(k.transport, TransportKey::Tcp { seq: 1000, .. }));
}

#[test]
fn udp_plain_and_bad_length() {
    let seg = udp(A.into(), B.into(), 5000, 53, b"hello");
    let ip = Ipv4Builder::new(A, B, IpProto::UDP).build(&seg);
    let f = ethernet(mac_for(B), mac_for(A), EtherType::IPV4, &ip);
    let p = decode(&f, &opts());
    assert_eq!(p.payload(), Some(&b"hello"[..]));
    assert_eq!(
        p.summary(),
        "10.0.0.4:5000 > 10.0.0.14:53: UDP len 5 ttl 64"
    );
    let mut bad = f.clone();
    bad[14 + 20 + 5] = 3; // UDP length 3
    let e = decode(&bad, &opts()).error.unwrap();
    assert_eq!((e.layer, e.offset), ("UDP", 34));
    assert_eq!(e.reason, ErrorReason::BadTotalLength { value: 3, min: 8 });
}

#[test]
fn ipv6_icmpv6_echo() {
    let src: Ipv6Addr = "fd00::4".parse().unwrap();
    let dst: Ipv6Addr = "fd00::e".parse().unwrap();
    let echo = icmpv6_echo(src, dst, true, 9, 2, b"x");
    let f = ethernet(
        mac_for(B),
        mac_for(A),
        EtherType::IPV6,
        &ipv6(src, dst, IpProto::ICMPV6, 64, &echo),
    );
    let p = decode(&f, &opts());
    assert_eq!(p.error, None);
    assert_eq!(names(&p), ["Ethernet", "IPv6", "ICMPv6", "Payload"]);
    assert_eq!(p.icmpv6().unwrap().id, Some(9));
    assert_eq!(
        p.summary(),
        "fd00::4 > fd00::e: ICMP6 echo request id 9 seq 2 hlim 64"
    );
    let k = p.inner_key().unwrap();
    assert_eq!((k.ip_id, k.flow_label), (None, Some(0)));
}

#[test]
fn igmp_report() {
    let g = Ipv4Addr::new(239, 1, 2, 3);
    let mut ip = Ipv4Builder::new(A, g, IpProto::IGMP);
    ip.ttl = 1;
    ip.options = vec![148, 4, 0, 0];
    let f = ethernet(
        MacAddr([1, 0, 0x5e, 1, 2, 3]),
        mac_for(A),
        EtherType::IPV4,
        &ip.build(&igmp(0x16, 0, g)),
    );
    let p = decode(&f, &opts());
    assert_eq!(p.error, None);
    assert_eq!(p.ipv4().unwrap().header_len, 24);
    assert_eq!(p.igmp().unwrap().group, Some(g));
    assert_eq!(
        p.summary(),
        "10.0.0.4 > 239.1.2.3: IGMP v2 report 239.1.2.3 ttl 1"
    );
}

#[test]
fn ipip_and_fragments() {
    let inner = Ipv4Builder::new(A, B, IpProto::ICMP).build(&icmp_echo(true, 1, 1, b""));
    let outer = Ipv4Builder::new(HOST_A, HOST_B, IpProto::IPIP).build(&inner);
    let f = ethernet(mac_for(B), mac_for(A), EtherType::IPV4, &outer);
    let p = decode(&f, &opts());
    assert_eq!(names(&p), ["Ethernet", "IPv4", "IPv4", "ICMP"]);
    assert_eq!(p.ipv4().unwrap().src, A);
    assert_eq!(
        p.summary(),
        "192.168.228.148 > 192.168.228.149: IPIP ttl 64 | \
         10.0.0.4 > 10.0.0.14: ICMP echo request id 1 seq 1 ttl 64"
    );
    // A non-first fragment: payload only.
    let mut frag = Ipv4Builder::new(A, B, IpProto::UDP).build(b"0123456789");
    frag[6] = 0x00;
    frag[7] = 0x10; // offset 16 units
    let p = decode_linktype(linktype::RAW, &frag, &opts());
    assert_eq!(names(&p), ["IPv4", "Payload"]);
    assert!(p.summary().contains("UDP fragment"), "{}", p.summary());
}

#[test]
fn linktypes() {
    let ip = Ipv4Builder::new(A, B, IpProto::ICMP).build(&icmp_echo(true, 1, 2, b""));
    let mut sll = vec![0, 4, 0, 1, 0, 6, 2, 0x42, 10, 0, 0, 4, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    let p = decode_linktype(linktype::LINUX_SLL, &sll, &opts());
    assert_eq!(p.error, None);
    assert_eq!(names(&p), ["SLL", "IPv4", "ICMP"]);
    assert_eq!(p.icmp().unwrap().seq, Some(2));
    let p = decode_linktype(linktype::RAW, &ip, &opts());
    assert_eq!(names(&p), ["IPv4", "ICMP"]);
    let p = decode_linktype(linktype::IPV4, &ip, &opts());
    assert_eq!(names(&p), ["IPv4", "ICMP"]);
    let p = decode_linktype(linktype::ETHERNET, &ECHO_FRAME, &opts());
    assert_eq!(p.error, None);
    let p = decode_linktype(9999, &ip, &opts());
    assert_eq!(names(&p), ["Payload"]);
    assert_eq!(
        p.error.unwrap().reason,
        ErrorReason::UnsupportedLinkType { linktype: 9999 }
    );
    let p = decode_linktype(linktype::RAW, &[], &opts());
    assert!(p.layers.is_empty() && p.error.is_some());
}

#[test]
fn unknown_ethertype_and_json() {
    let f = ethernet(
        MacAddr::BROADCAST,
        mac_for(A),
        EtherType(0x88cc),
        &[1, 2, 3],
    );
    let p = decode(&f, &opts());
    assert_eq!(names(&p), ["Ethernet", "Payload"]);
    assert_eq!(
        p.summary(),
        "02:42:0a:00:00:04 > ff:ff:ff:ff:ff:ff ethertype LLDP"
    );
    let p = decode(&ECHO_FRAME, &opts());
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["layers"][0]["ethernet"]["src"], "02:42:0a:00:00:04");
    assert_eq!(json["layers"][1]["ipv4"]["dst"], "10.0.0.14");
    assert_eq!(json["layers"][2]["icmp"]["seq"], 1);
    assert_eq!(json["layers"][3]["payload"], "61626364");
    let bad = decode(&ECHO_FRAME[..20], &opts());
    let json = serde_json::to_value(&bad).unwrap();
    assert_eq!(json["error"]["layer"], "IPv4");
    assert_eq!(json["error"]["reason"]["kind"], "truncated");
}

#[test]
fn icmp_error_quote() {
    // Time exceeded from a router, quoting the first 28 bytes of a UDP probe.
    let probe = Ipv4Builder::new(A, B, IpProto::UDP).build(&udp(
        A.into(),
        B.into(),
        40000,
        33434,
        &[0; 32],
    ));
    let mut te = vec![11, 0, 0, 0, 0, 0, 0, 0];
    te.extend_from_slice(&probe[..28]);
    let router = Ipv4Addr::new(10, 0, 0, 1);
    let ip = Ipv4Builder::new(router, A, IpProto::ICMP).build(&te);
    let f = ethernet(mac_for(A), mac_for(router), EtherType::IPV4, &ip);
    let p = decode(&f, &opts());
    assert_eq!(p.error, None);
    assert_eq!(
        p.summary(),
        "10.0.0.1 > 10.0.0.4: ICMP time exceeded in transit ttl 64"
    );
    let q = p.icmp_quote(&opts()).unwrap();
    assert_eq!(names(&q), ["IPv4", "UDP"]);
    assert_eq!(q.udp().unwrap().dst_port, 33434);
    assert_eq!(q.error.unwrap().layer, "IPv4", "the quote is truncated");
    assert_eq!(decode(&ECHO_FRAME, &opts()).icmp_quote(&opts()), None);
}
