//! Property tests: the decoder never panics, and what it returns is self-consistent, on
//! random bytes and on randomly mutated or truncated valid frames.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use proptest::prelude::*;
use vxlab::decode::build::{
    Ipv4Builder, TcpBuilder, arp, ethernet, ethernet_vlan, icmp_echo, icmp_echo_frame, icmpv6_echo,
    igmp, ipv6, mac_for, udp, vxlan_frame,
};
use vxlab::decode::{
    DecodeOptions, EtherType, IpProto, Layer, MacAddr, Packet, TcpFlags, decode, decode_linktype,
    linktype,
};

const CASES: u32 = 20_000;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 4);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 14);
const H1: Ipv4Addr = Ipv4Addr::new(192, 168, 228, 148);
const H2: Ipv4Addr = Ipv4Addr::new(192, 168, 228, 149);

/// Valid frames covering every decoder path, built once.
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(build_corpus);
    &CORPUS
}

fn build_corpus() -> Vec<Vec<u8>> {
    let eth4 = |ip: &[u8]| ethernet(mac_for(B), mac_for(A), EtherType::IPV4, ip);
    let icmp = icmp_echo_frame(A, B, true, 7, 1, b"0123456789abcdef");
    let arp_req = ethernet(
        MacAddr::BROADCAST,
        mac_for(A),
        EtherType::ARP,
        &arp(1, mac_for(A), A, MacAddr::ZERO, B),
    );
    let mut syn = TcpBuilder::new(40000, 80, TcpFlags::SYN);
    syn.options = vec![
        2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    let tcp =
        eth4(&Ipv4Builder::new(A, B, IpProto::TCP).build(&syn.build(A.into(), B.into(), b"GET")));
    let udp4 =
        eth4(&Ipv4Builder::new(A, B, IpProto::UDP).build(&udp(A.into(), B.into(), 5000, 53, b"q")));
    let (s6, d6): (Ipv6Addr, Ipv6Addr) = ("fd00::4".parse().unwrap(), "fd00::e".parse().unwrap());
    // A hop-by-hop header (PadN) before the ICMPv6 echo.
    let mut hbh = vec![58, 0, 1, 4, 0, 0, 0, 0];
    hbh.extend_from_slice(&icmpv6_echo(s6, d6, true, 1, 2, b"x"));
    let v6 = ipv6(s6, d6, IpProto::HOPOPT, 64, &hbh);
    let v6 = ethernet(mac_for(B), mac_for(A), EtherType::IPV6, &v6);
    let mut opt_ip = Ipv4Builder::new(A, Ipv4Addr::new(239, 1, 1, 1), IpProto::IGMP);
    opt_ip.options = vec![148, 4, 0, 0];
    let igmp4 = eth4(&opt_ip.build(&igmp(0x16, 0, Ipv4Addr::new(239, 1, 1, 1))));
    let vlan = ethernet_vlan(
        mac_for(B),
        mac_for(A),
        &[(EtherType::QINQ, 5), (EtherType::VLAN, 100)],
        EtherType::IPV4,
        &Ipv4Builder::new(A, B, IpProto::ICMP).build(&icmp_echo(false, 1, 1, b"")),
    );
    let vx = vxlan_frame(H1, H2, (51234, 4789), 100, &icmp);
    let vx_arp = vxlan_frame(H1, H2, (51234, 8472), 1, &arp_req);
    let vx_vx = vxlan_frame(H1, H2, (1, 4789), 2, &vx);
    let ipip =
        eth4(&Ipv4Builder::new(H1, H2, IpProto::IPIP).build(
            &Ipv4Builder::new(A, B, IpProto::TCP).build(&syn.build(A.into(), B.into(), b"")),
        ));
    // An ICMP time exceeded quoting the start of the TCP SYN's IP packet.
    let mut te = vec![11, 0, 0, 0, 0, 0, 0, 0];
    te.extend_from_slice(&tcp[14..14 + 28]);
    let te = eth4(&Ipv4Builder::new(H1, A, IpProto::ICMP).build(&te));
    vec![
        icmp, arp_req, tcp, udp4, v6, igmp4, vlan, vx, vx_arp, vx_vx, ipip, te,
    ]
}

/// Checks what must hold for any decode result.
fn check(p: &Packet<'_>, len: usize) {
    assert_eq!(p.len, len);
    assert_eq!(p.layers.len(), p.spans.len());
    let mut prev_end = 0;
    for (layer, span) in p.iter() {
        assert!(span.offset >= prev_end, "layers overlap: {:?}", p.spans);
        assert!(span.offset + span.len <= len, "span past end: {span:?}");
        assert!(span.len > 0, "empty layer {layer:?}");
        if let Layer::Payload(data) = layer {
            assert_eq!(data.len(), span.len);
        }
        prev_end = span.offset + span.len;
    }
    if let Some(e) = &p.error {
        assert!(e.offset <= len, "{e}");
        assert!(!e.to_string().is_empty());
    }
    assert!(!p.summary().is_empty());
    let _ = p.inner_key();
    let _ = (
        p.outer(),
        p.inner(),
        p.vxlan(),
        p.ipv4(),
        p.tcp(),
        p.payload(),
    );
    if let Some(q) = p.icmp_quote(&DecodeOptions::default()) {
        check(&q, q.len);
    }
}

/// Link types to try; `0` is one the decoder does not support.
const LINKTYPES: [u32; 7] = [
    linktype::ETHERNET,
    linktype::RAW,
    linktype::LINUX_SLL,
    linktype::LINUX_SLL2,
    linktype::IPV4,
    linktype::IPV6,
    0,
];

fn decode_as(lt: u32, data: &[u8], opts: &DecodeOptions) {
    check(&decode_linktype(lt, data, opts), data.len());
}

#[test]
fn corpus_decodes_completely() {
    let opts = DecodeOptions::default();
    for f in corpus() {
        let p = decode(f, &opts);
        assert!(p.is_complete(), "{}: {:?}", p.summary(), p.error);
        check(&p, f.len());
    }
}

/// A mutation of a corpus frame: which frame, byte edits, then an optional cut.
#[derive(Debug, Clone)]
struct Mutation {
    frame: usize,
    edits: Vec<(usize, u8)>,
    cut: Option<usize>,
}

impl Mutation {
    /// The mutated frame.
    fn apply(&self) -> Vec<u8> {
        let corpus = corpus();
        let mut f = corpus[self.frame % corpus.len()].clone();
        for (at, byte) in &self.edits {
            let i = at % f.len();
            f[i] = *byte;
        }
        if let Some(cut) = self.cut {
            f.truncate(cut % (f.len() + 1));
        }
        f
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        any::<usize>(),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        prop::option::of(any::<usize>()),
    )
        .prop_map(|(frame, edits, cut)| Mutation { frame, edits, cut })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn random_bytes_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..160),
        lt in prop::sample::select(&LINKTYPES[..]),
    ) {
        decode_as(lt, &data, &DecodeOptions::default());
    }

    #[test]
    fn mutated_frames_never_panic(m in mutation(), ports in prop::collection::vec(any::<u16>(), 0..3)) {
        let f = m.apply();
        let mut opts = DecodeOptions::default();
        opts.vxlan_ports.extend(ports);
        // As Ethernet, which the corpus is, and as some other link type.
        let lt = LINKTYPES[m.frame / corpus().len() % LINKTYPES.len()];
        decode_as(lt, &f, &opts);
        check(&decode(&f, &opts), f.len());
    }

    #[test]
    fn truncation_keeps_a_prefix_of_the_layers(frame in any::<usize>(), cut in any::<usize>()) {
        let corpus = corpus();
        let f = &corpus[frame % corpus.len()];
        let cut = cut % f.len();
        let opts = DecodeOptions::default();
        let full = decode(f, &opts);
        let part = decode(&f[..cut], &opts);
        prop_assert!(part.error.is_some(), "cut at {} of {} decoded cleanly", cut, f.len());
        // Every header decoded from the cut frame is also in the full decode, at the same place.
        for (i, (layer, span)) in part.iter().enumerate() {
            if !matches!(layer, Layer::Payload(_)) {
                prop_assert_eq!(Some(span), full.spans.get(i).copied());
                prop_assert_eq!(layer.name(), full.layers[i].name());
            }
        }
    }
}

proptest! {
    // Serializing is slower than decoding; fewer cases suffice.
    #![proptest_config(ProptestConfig::with_cases(CASES / 10))]

    #[test]
    fn mutated_frames_serialize(m in mutation()) {
        let f = m.apply();
        let p = decode(&f, &DecodeOptions::default());
        let json = serde_json::to_value(&p).expect("serializes");
        prop_assert_eq!(json["layers"].as_array().map(Vec::len), Some(p.layers.len()));
    }
}
