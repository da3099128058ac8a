//! Oracle test: decode a set of hand-built frames with vxlab's decoder and with tshark,
//! and compare field by field.
//!
//! The frames are written to classic pcap files; tshark prints the chosen fields with every
//! occurrence (outer and inner headers of VXLAN and IP-in-IP), which must equal the values
//! the decoder yields for the same layers in the same order. Without tshark the test prints
//! "skipped: tshark not found" to stderr and returns.

#[path = "common/skip.rs"]
mod skip;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;

use vxlab::decode::build::{
    Ipv4Builder, TcpBuilder, arp, ethernet, ethernet_vlan, icmp_echo, icmp_echo_frame, icmpv6_echo,
    igmp, ipv6, mac_for, udp, vxlan_frame,
};
use vxlab::decode::{
    DecodeOptions, EtherType, IpProto, Layer, MacAddr, Packet, TcpFlags, decode_linktype, linktype,
    transport_checksum,
};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 4);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 14);
const H1: Ipv4Addr = Ipv4Addr::new(192, 168, 228, 148);
const H2: Ipv4Addr = Ipv4Addr::new(192, 168, 228, 149);

/// The fields compared. Each is printed by tshark for every occurrence in a frame.
const FIELDS: &[&str] = &[
    "eth.src",
    "eth.dst",
    "eth.type",
    "vlan.id",
    "vlan.etype",
    "ieee8021ad.id",
    "sll.pkttype",
    "sll.etype",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.id",
    "ip.proto",
    "ip.len",
    "ip.hdr_len",
    "ip.flags.df",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.checksum",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.plen",
    "ipv6.nxt",
    "ipv6.hopopts.nxt",
    "ipv6.dstopts.nxt",
    "ipv6.routing.nxt",
    "ipv6.flow",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "udp.checksum",
    "vxlan.flags",
    "vxlan.vni",
    "icmp.type",
    "icmp.code",
    "icmp.checksum",
    "icmp.ident",
    "icmp.seq",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "icmpv6.nd.ns.target_address",
    "icmpv6.opt.linkaddr",
    "igmp.type",
    "igmp.version",
    "igmp.maddr",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.hdr_len",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.timestamp.tsval",
    "tcp.len",
];

/// The Ethernet frames compared, with a name for messages.
fn ethernet_frames() -> Vec<(&'static str, Vec<u8>)> {
    let eth4 = |ip: &[u8]| ethernet(mac_for(B), mac_for(A), EtherType::IPV4, ip);
    let echo = icmp_echo_frame(A, B, true, 7, 1, b"0123456789abcdef");
    let mut ip = Ipv4Builder::new(A, B, IpProto::ICMP);
    ip.id = 0x1c46;
    ip.ttl = 63;
    let reply = eth4(&ip.build(&icmp_echo(false, 0x1234, 300, b"pong")));

    let mut syn = TcpBuilder::new(40000, 23456, TcpFlags::SYN);
    syn.seq = 0xdead_beef;
    syn.options = vec![
        2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    let syn_ip = Ipv4Builder::new(A, B, IpProto::TCP).build(&syn.build(A.into(), B.into(), b""));
    let mut ack = TcpBuilder::new(23456, 40000, TcpFlags::PSH | TcpFlags::ACK);
    (ack.seq, ack.ack, ack.window) = (77, 0xdead_bef0, 501);
    ack.options = vec![1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 1];
    let mut ack_ip = Ipv4Builder::new(B, A, IpProto::TCP);
    ack_ip.id = 4242;
    let ack_ip = ack_ip.build(&ack.build(B.into(), A.into(), b"hello world"));

    let udp4 = eth4(&Ipv4Builder::new(A, B, IpProto::UDP).build(&udp(
        A.into(),
        B.into(),
        12345,
        23456,
        b"datagram",
    )));
    let arp_req = ethernet(
        MacAddr::BROADCAST,
        mac_for(A),
        EtherType::ARP,
        &arp(1, mac_for(A), A, MacAddr::ZERO, B),
    );
    let arp_reply = ethernet(
        mac_for(A),
        mac_for(B),
        EtherType::ARP,
        &arp(2, mac_for(B), B, mac_for(A), A),
    );
    let vlan = ethernet_vlan(
        mac_for(B),
        mac_for(A),
        &[(EtherType::VLAN, 100)],
        EtherType::IPV4,
        &Ipv4Builder::new(A, B, IpProto::ICMP).build(&icmp_echo(true, 9, 9, b"v")),
    );
    let qinq = ethernet_vlan(
        mac_for(B),
        mac_for(A),
        &[(EtherType::QINQ, 5), (EtherType::VLAN, 200)],
        EtherType::IPV4,
        &Ipv4Builder::new(A, B, IpProto::UDP).build(&udp(A.into(), B.into(), 1000, 2000, b"")),
    );

    let (s6, d6): (Ipv6Addr, Ipv6Addr) = ("fd00::4".parse().unwrap(), "fd00::e".parse().unwrap());
    let eth6 = |ip: &[u8]| ethernet(mac_for(B), mac_for(A), EtherType::IPV6, ip);
    let echo6 = eth6(&ipv6(
        s6,
        d6,
        IpProto::ICMPV6,
        64,
        &icmpv6_echo(s6, d6, true, 0x77, 5, b"ping6"),
    ));
    let mut hbh = vec![58, 0, 1, 4, 0, 0, 0, 0];
    hbh.extend_from_slice(&icmpv6_echo(s6, d6, false, 0x77, 5, b"pong6"));
    let hbh6 = eth6(&ipv6(d6, s6, IpProto::HOPOPT, 255, &hbh));
    let ns_dst: Ipv6Addr = "ff02::1:ff00:e".parse().unwrap();
    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&d6.octets());
    ns.extend_from_slice(&[1, 1, 2, 0x42, 10, 0, 0, 4]);
    let sum = transport_checksum(s6.into(), ns_dst.into(), 58, &ns);
    ns[2..4].copy_from_slice(&sum.to_be_bytes());
    let ns6 = eth6(&ipv6(s6, ns_dst, IpProto::ICMPV6, 255, &ns));

    let group = Ipv4Addr::new(239, 1, 2, 3);
    let mut igmp_ip = Ipv4Builder::new(A, group, IpProto::IGMP);
    igmp_ip.ttl = 1;
    igmp_ip.options = vec![148, 4, 0, 0];
    let igmp2 = ethernet(
        MacAddr([1, 0, 0x5e, 1, 2, 3]),
        mac_for(A),
        EtherType::IPV4,
        &igmp_ip.build(&igmp(0x16, 0, group)),
    );

    let vx = vxlan_frame(H1, H2, (51234, 4789), 100, &echo);
    let vx_arp = vxlan_frame(H1, H2, (40000, 8472), 1, &arp_req);
    let vx_tcp = vxlan_frame(H2, H1, (33333, 4789), 0x00ab_cdef, &eth4(&syn_ip));
    let ipip = eth4(&Ipv4Builder::new(H1, H2, IpProto::IPIP).build(&syn_ip));
    // The last fragment of a UDP datagram: offset 185 * 8 = 1480, MF clear.
    let mut frag = Ipv4Builder::new(A, B, IpProto::UDP);
    (frag.id, frag.dont_fragment) = (999, false);
    let mut frag = frag.build(b"tail of a long datagram");
    frag[6..8].copy_from_slice(&185u16.to_be_bytes());
    frag[10..12].copy_from_slice(&[0, 0]);
    let sum = vxlab::decode::internet_checksum(&frag[..20]);
    frag[10..12].copy_from_slice(&sum.to_be_bytes());
    let frag = eth4(&frag);
    // A router's time exceeded, quoting the first 28 bytes of a UDP traceroute probe.
    let mut probe = Ipv4Builder::new(A, H2, IpProto::UDP);
    (probe.id, probe.ttl) = (0x4242, 1);
    let probe = probe.build(&udp(A.into(), H2.into(), 40000, 33434, &[0x55; 32]));
    let mut te = vec![11, 0, 0, 0, 0, 0, 0, 0];
    te.extend_from_slice(&probe[..28]);
    let sum = vxlab::decode::internet_checksum(&te);
    te[2..4].copy_from_slice(&sum.to_be_bytes());
    let router = Ipv4Addr::new(10, 0, 0, 1);
    let ttl_exceeded = ethernet(
        mac_for(A),
        mac_for(router),
        EtherType::IPV4,
        &Ipv4Builder::new(router, A, IpProto::ICMP).build(&te),
    );

    vec![
        ("icmp echo request", echo),
        ("icmp echo reply", reply),
        ("tcp syn with options", eth4(&syn_ip)),
        ("tcp psh-ack with payload", eth4(&ack_ip)),
        ("udp", udp4),
        ("arp request", arp_req),
        ("arp reply", arp_reply),
        ("802.1Q", vlan),
        ("802.1ad qinq", qinq),
        ("ipv6 icmpv6 echo", echo6),
        ("ipv6 hop-by-hop", hbh6),
        ("ipv6 neighbor solicitation", ns6),
        ("igmpv2 with ip options", igmp2),
        ("vxlan 4789 icmp", vx),
        ("vxlan 8472 arp", vx_arp),
        ("vxlan 4789 tcp", vx_tcp),
        ("ipip", ipip),
        ("ipv4 last fragment", frag),
        ("icmp time exceeded", ttl_exceeded),
    ]
}

/// Values the decoder gives for each field of [`FIELDS`], in layer order, followed by
/// those of the packet quoted by an ICMP error (which tshark dissects too).
fn expected(p: &Packet<'_>) -> BTreeMap<&'static str, Vec<String>> {
    let mut m = layer_fields(p);
    if let Some(quote) = p.icmp_quote(&DecodeOptions::default()) {
        for (k, v) in layer_fields(&quote) {
            m.entry(k).or_default().extend(v);
        }
    }
    m
}

fn layer_fields(p: &Packet<'_>) -> BTreeMap<&'static str, Vec<String>> {
    let mut m: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut put = |k: &'static str, v: &dyn ToString| m.entry(k).or_default().push(v.to_string());
    let tcp_len = tcp_payload_len(p);
    for layer in &p.layers {
        match layer {
            Layer::Ethernet(e) => {
                put("eth.src", &e.src);
                put("eth.dst", &e.dst);
                put("eth.type", &e.ethertype.0);
            }
            Layer::Sll(s) => {
                put("sll.pkttype", &s.packet_type);
                put("sll.etype", &s.protocol.0);
            }
            // tshark's "vlan" dissector takes 802.1Q tags, "ieee8021ad" the S-tags.
            Layer::Vlan(v) if v.tpid == EtherType::QINQ => put("ieee8021ad.id", &v.vid),
            Layer::Vlan(v) => {
                put("vlan.id", &v.vid);
                put("vlan.etype", &v.ethertype.0);
            }
            Layer::Arp(a) => {
                put("arp.opcode", &a.op);
                put("arp.src.hw_mac", &a.sender_mac);
                put("arp.src.proto_ipv4", &a.sender_ip);
                put("arp.dst.hw_mac", &a.target_mac);
                put("arp.dst.proto_ipv4", &a.target_ip);
            }
            Layer::Ipv4(h) => {
                put("ip.src", &h.src);
                put("ip.dst", &h.dst);
                put("ip.ttl", &h.ttl);
                put("ip.id", &h.id);
                put("ip.proto", &h.protocol.0);
                put("ip.len", &h.total_len);
                put("ip.hdr_len", &h.header_len);
                put("ip.flags.df", &u8::from(h.dont_fragment));
                put("ip.flags.mf", &u8::from(h.more_fragments));
                put("ip.frag_offset", &h.fragment_offset);
                put("ip.checksum", &h.checksum);
            }
            Layer::Ipv6(h) => {
                put("ipv6.src", &h.src);
                put("ipv6.dst", &h.dst);
                put("ipv6.hlim", &h.hop_limit);
                put("ipv6.plen", &h.payload_len);
                put("ipv6.nxt", &h.next_header.0);
                // Each extension header's next-header field names the one after it.
                let nexts = h.extensions.iter().skip(1).map(|e| e.kind);
                for (ext, next) in h.extensions.iter().zip(nexts.chain([h.protocol])) {
                    match ext.kind {
                        IpProto::HOPOPT => put("ipv6.hopopts.nxt", &next.0),
                        IpProto::DSTOPTS => put("ipv6.dstopts.nxt", &next.0),
                        IpProto::ROUTING => put("ipv6.routing.nxt", &next.0),
                        _ => {}
                    }
                }
                put("ipv6.flow", &h.flow_label);
            }
            Layer::Udp(u) => {
                put("udp.srcport", &u.src_port);
                put("udp.dstport", &u.dst_port);
                put("udp.length", &u.length);
                put("udp.checksum", &u.checksum);
            }
            Layer::Vxlan(v) => {
                put(
                    "vxlan.flags",
                    &((u32::from(v.flags) << 8) | (v.reserved1 >> 16)),
                );
                put("vxlan.vni", &v.vni);
            }
            Layer::Icmp(i) => {
                put("icmp.type", &i.icmp_type);
                put("icmp.code", &i.code);
                put("icmp.checksum", &i.checksum);
                if let (Some(id), Some(seq)) = (i.id, i.seq) {
                    put("icmp.ident", &id);
                    put("icmp.seq", &seq);
                }
            }
            Layer::Icmpv6(i) => {
                put("icmpv6.type", &i.icmp_type);
                put("icmpv6.code", &i.code);
                if let (Some(id), Some(seq)) = (i.id, i.seq) {
                    put("icmpv6.echo.identifier", &id);
                    put("icmpv6.echo.sequence_number", &seq);
                }
                if let (135, Some(t)) = (i.icmp_type, i.target) {
                    put("icmpv6.nd.ns.target_address", &t);
                }
                if let Some(mac) = i.link_addr {
                    put("icmpv6.opt.linkaddr", &mac);
                }
            }
            Layer::Igmp(g) => {
                put("igmp.type", &g.igmp_type);
                put("igmp.version", &g.version);
                for addr in g.group.iter().chain(g.records.iter().map(|r| &r.group)) {
                    put("igmp.maddr", addr);
                }
            }
            Layer::Tcp(t) => {
                put("tcp.srcport", &t.src_port);
                put("tcp.dstport", &t.dst_port);
                put("tcp.seq_raw", &t.seq);
                put("tcp.ack_raw", &t.ack);
                put("tcp.hdr_len", &t.header_len);
                put("tcp.flags", &t.flags.0);
                put("tcp.window_size_value", &t.window);
                if let Some(mss) = t.options.mss {
                    put("tcp.options.mss_val", &mss);
                }
                if let Some(ws) = t.options.window_scale {
                    put("tcp.options.wscale.shift", &ws);
                }
                if let Some((tsval, _)) = t.options.timestamps {
                    put("tcp.options.timestamp.tsval", &tsval);
                }
                put("tcp.len", &tcp_len);
            }
            Layer::Payload(_) => {}
        }
    }
    m
}

fn tcp_payload_len(p: &Packet<'_>) -> usize {
    p.tcp().and(p.payload()).map_or(0, <[u8]>::len)
}

/// Normalizes a value for comparison: numbers (decimal or 0x hex) to decimal, booleans to
/// 0/1, everything else lowercased.
fn norm(v: &str) -> String {
    let v = v.trim();
    let num = v.strip_prefix("0x").map_or_else(
        || v.parse::<u64>().ok(),
        |h| u64::from_str_radix(h, 16).ok(),
    );
    match (num, v) {
        (Some(n), _) => n.to_string(),
        (None, "True") => "1".into(),
        (None, "False") => "0".into(),
        _ => v.to_lowercase(),
    }
}

/// Writes a classic (microsecond, little-endian) pcap file.
fn write_pcap(path: &Path, linktype: u32, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&linktype.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        let len = u32::try_from(f.len()).unwrap();
        out.extend_from_slice(&(1_700_000_000 + u32::try_from(i).unwrap()).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// Runs tshark on `path` and returns, per frame, each field's occurrences.
fn tshark_fields(path: &Path) -> Vec<BTreeMap<&'static str, Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(path);
    cmd.args(["-d", "udp.port==8472,vxlan", "-T", "fields"]);
    cmd.args([
        "-E",
        "separator=/t",
        "-E",
        "aggregator=|",
        "-E",
        "occurrence=a",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|line| {
            FIELDS
                .iter()
                .zip(line.split('\t'))
                .filter(|(_, v)| !v.is_empty())
                .map(|(f, v)| (*f, v.split('|').map(norm).collect()))
                .collect()
        })
        .collect()
}

/// Decodes `frames` with vxlab and tshark and returns a description of every mismatch.
fn compare(linktype: u32, frames: &[(&'static str, Vec<u8>)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.pcap");
    let raw: Vec<Vec<u8>> = frames.iter().map(|(_, f)| f.clone()).collect();
    write_pcap(&path, linktype, &raw);
    let theirs = tshark_fields(&path);
    assert_eq!(
        theirs.len(),
        frames.len(),
        "tshark printed one line per frame"
    );
    let opts = DecodeOptions::default();
    let mut problems = String::new();
    for ((name, frame), theirs) in frames.iter().zip(&theirs) {
        let p = decode_linktype(linktype, frame, &opts);
        assert!(p.is_complete(), "{name}: {:?}", p.error);
        let ours: BTreeMap<&str, Vec<String>> = expected(&p)
            .into_iter()
            .map(|(k, v)| (k, v.iter().map(|s| norm(s)).collect()))
            .collect();
        for field in FIELDS {
            let (a, b) = (ours.get(field), theirs.get(field));
            if a != b {
                let _ = writeln!(
                    problems,
                    "{name} [{}]: {field}: vxlab {a:?} != tshark {b:?}",
                    p.summary()
                );
            }
        }
    }
    problems
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn decoder_agrees_with_tshark() {
    if !tshark_available() {
        skip::skip(format_args!("tshark not found"));
        return;
    }
    let eth = ethernet_frames();
    let mut problems = compare(linktype::ETHERNET, &eth);

    // The same IP packets as Linux cooked captures (SLL, what `tcpdump -i any` writes)
    // and as raw IP.
    let ip_only: Vec<(&'static str, Vec<u8>)> = eth
        .iter()
        .filter(|(_, f)| f.get(12..14) == Some(&[0x08, 0x00]))
        .map(|(n, f)| (*n, f[14..].to_vec()))
        .collect();
    assert!(ip_only.len() >= 8);
    let sll: Vec<(&'static str, Vec<u8>)> = ip_only
        .iter()
        .map(|(n, ip)| {
            let mut f = vec![0, 4, 0, 1, 0, 6, 2, 0x42, 10, 0, 0, 4, 0, 0, 0x08, 0x00];
            f.extend_from_slice(ip);
            (*n, f)
        })
        .collect();
    problems += &compare(linktype::LINUX_SLL, &sll);
    problems += &compare(linktype::RAW, &ip_only);
    assert!(
        problems.is_empty(),
        "decoder and tshark disagree:\n{problems}"
    );
    eprintln!(
        "compared {} frames ({} fields each) with tshark",
        eth.len() + sll.len() + ip_only.len(),
        FIELDS.len()
    );
}
