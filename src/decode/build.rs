//! Frame builders, the inverse of [`decode`](super::decode): they assemble headers with
//! correct lengths and checksums, for tests and for crafting probe packets.
//!
//! Builders nest from the inside out: build the payload, wrap it in a transport header,
//! then in IP, then in Ethernet.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use vxlab::decode::build::{ethernet, udp, Ipv4Builder, mac_for};
//! use vxlab::decode::{EtherType, IpProto};
//!
//! let (src, dst) = (Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 14));
//! let seg = udp(src.into(), dst.into(), 5000, 53, b"query");
//! let ip = Ipv4Builder::new(src, dst, IpProto::UDP).build(&seg);
//! let frame = ethernet(mac_for(dst), mac_for(src), EtherType::IPV4, &ip);
//! assert_eq!(frame.len(), 14 + 20 + 8 + 5);
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::checksum::{internet_checksum, transport_checksum};
use super::ethernet::{EtherType, MacAddr};
use super::ip::IpProto;
use super::transport::TcpFlags;
use super::vxlan::Vxlan;

/// A locally administered MAC derived from an IPv4 address, as Docker does: `02:42:a:b:c:d`.
pub fn mac_for(ip: Ipv4Addr) -> MacAddr {
    let [a, b, c, d] = ip.octets();
    MacAddr([0x02, 0x42, a, b, c, d])
}

/// Stores `value` big-endian at `buf[at..at + 2]`, if it fits.
fn put16(buf: &mut [u8], at: usize, value: u16) {
    if let Some(dst) = buf.get_mut(at..at + 2) {
        dst.copy_from_slice(&value.to_be_bytes());
    }
}

/// Length as a 16-bit header field (saturating; builders are not for jumbograms).
fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// An Ethernet II frame around `payload` (no padding to 60 bytes is added).
pub fn ethernet(dst: MacAddr, src: MacAddr, ethertype: EtherType, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.0.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An Ethernet II frame with VLAN tags: `tags` are (TPID, VID) pairs, outermost first.
pub fn ethernet_vlan(
    dst: MacAddr,
    src: MacAddr,
    tags: &[(EtherType, u16)],
    ethertype: EtherType,
    payload: &[u8],
) -> Vec<u8> {
    let mut body = Vec::with_capacity(tags.len() * 4 + payload.len());
    let mut types = tags.iter().map(|t| t.0).skip(1).chain([ethertype]);
    for (_, vid) in tags {
        body.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
        let next = types.next().unwrap_or(ethertype);
        body.extend_from_slice(&next.0.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let first = tags.first().map_or(ethertype, |t| t.0);
    ethernet(dst, src, first, &body)
}

/// An ARP packet (Ethernet/IPv4). `op` is 1 for a request, 2 for a reply.
pub fn arp(
    op: u16,
    sender_mac: MacAddr,
    sender_ip: Ipv4Addr,
    target_mac: MacAddr,
    target_ip: Ipv4Addr,
) -> Vec<u8> {
    let mut p = vec![0, 1, 0x08, 0x00, 6, 4];
    p.extend_from_slice(&op.to_be_bytes());
    p.extend_from_slice(&sender_mac.0);
    p.extend_from_slice(&sender_ip.octets());
    p.extend_from_slice(&target_mac.0);
    p.extend_from_slice(&target_ip.octets());
    p
}

/// Builds IPv4 headers. Defaults: TTL 64, id 0, DF set, no options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Builder {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProto,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
    /// Don't-fragment flag.
    pub dont_fragment: bool,
    /// Type of service byte (DSCP and ECN).
    pub tos: u8,
    /// Option bytes; padded with end-of-list to a multiple of 4.
    pub options: Vec<u8>,
}

impl Ipv4Builder {
    /// A builder with the defaults.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProto) -> Self {
        Self {
            src,
            dst,
            protocol,
            ttl: 64,
            id: 0,
            dont_fragment: true,
            tos: 0,
            options: Vec::new(),
        }
    }

    /// Header and payload, with total length and checksum filled in.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut opts = self.options.clone();
        opts.resize(opts.len().div_ceil(4).min(10) * 4, 0);
        let hl = 20 + opts.len();
        let mut p = Vec::with_capacity(hl + payload.len());
        // hl <= 60, so hl / 4 fits in the IHL nibble.
        p.push(0x40 | u8::try_from(hl / 4).unwrap_or(15));
        p.push(self.tos);
        p.extend_from_slice(&len16(hl + payload.len()).to_be_bytes());
        p.extend_from_slice(&self.id.to_be_bytes());
        p.extend_from_slice(&(if self.dont_fragment { 0x4000u16 } else { 0 }).to_be_bytes());
        p.extend_from_slice(&[self.ttl, self.protocol.0, 0, 0]);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(opts.get(..hl - 20).unwrap_or_default());
        let sum = internet_checksum(&p);
        put16(&mut p, 10, sum);
        p.extend_from_slice(payload);
        p
    }
}

/// An IPv6 header (no extension headers) and payload.
pub fn ipv6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: IpProto,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&len16(payload.len()).to_be_bytes());
    p.extend_from_slice(&[next_header.0, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// A UDP datagram with its checksum computed over the pseudo-header of `src`/`dst`.
pub fn udp(src: IpAddr, dst: IpAddr, src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + payload.len());
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&len16(8 + payload.len()).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    let sum = match transport_checksum(src, dst, IpProto::UDP.0, &p) {
        0 => 0xffff,
        s => s,
    };
    put16(&mut p, 6, sum);
    p
}

/// Builds TCP segments. Defaults: seq 0, ack 0, no flags, window 64240, no options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpBuilder {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Window.
    pub window: u16,
    /// Option bytes; padded with end-of-list to a multiple of 4.
    pub options: Vec<u8>,
}

impl TcpBuilder {
    /// A builder with the defaults.
    pub fn new(src_port: u16, dst_port: u16, flags: TcpFlags) -> Self {
        Self {
            src_port,
            dst_port,
            seq: 0,
            ack: 0,
            flags,
            window: 64240,
            options: Vec::new(),
        }
    }

    /// The segment with its checksum computed over the pseudo-header of `src`/`dst`.
    pub fn build(&self, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
        let mut opts = self.options.clone();
        opts.resize(opts.len().div_ceil(4).min(10) * 4, 0);
        let hl = 20 + opts.len();
        let mut p = Vec::with_capacity(hl + payload.len());
        p.extend_from_slice(&self.src_port.to_be_bytes());
        p.extend_from_slice(&self.dst_port.to_be_bytes());
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ack.to_be_bytes());
        let off_flags = (len16(hl / 4) << 12) | (self.flags.0 & 0x1ff);
        p.extend_from_slice(&off_flags.to_be_bytes());
        p.extend_from_slice(&self.window.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(opts.get(..hl - 20).unwrap_or_default());
        p.extend_from_slice(payload);
        let sum = transport_checksum(src, dst, IpProto::TCP.0, &p);
        put16(&mut p, 16, sum);
        p
    }
}

/// An ICMP echo request (`request`) or reply with checksum.
pub fn icmp_echo(request: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![if request { 8 } else { 0 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    let sum = internet_checksum(&p);
    put16(&mut p, 2, sum);
    p
}

/// An ICMPv6 echo request (`request`) or reply with checksum.
pub fn icmpv6_echo(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    request: bool,
    id: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![if request { 128 } else { 129 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    let sum = transport_checksum(src.into(), dst.into(), IpProto::ICMPV6.0, &p);
    put16(&mut p, 2, sum);
    p
}

/// An 8-byte IGMPv1/v2 message with checksum.
pub fn igmp(igmp_type: u8, max_resp: u8, group: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![igmp_type, max_resp, 0, 0];
    p.extend_from_slice(&group.octets());
    let sum = internet_checksum(&p);
    put16(&mut p, 2, sum);
    p
}

/// A VXLAN header (I flag set) followed by `inner` (an Ethernet frame).
pub fn vxlan(vni: u32, inner: &[u8]) -> Vec<u8> {
    let [_, a, b, c] = vni.to_be_bytes();
    let mut p = vec![Vxlan::FLAG_VNI, 0, 0, 0, a, b, c, 0];
    p.extend_from_slice(inner);
    p
}

/// Ethernet + IPv4 (TTL 64, id 0) + ICMP echo, with MACs from [`mac_for`].
pub fn icmp_echo_frame(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    request: bool,
    id: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ip = Ipv4Builder::new(src, dst, IpProto::ICMP).build(&icmp_echo(request, id, seq, payload));
    ethernet(mac_for(dst), mac_for(src), EtherType::IPV4, &ip)
}

/// Ethernet + IPv4 + UDP + VXLAN around the Ethernet frame `inner`, as a VTEP would send it.
pub fn vxlan_frame(
    outer_src: Ipv4Addr,
    outer_dst: Ipv4Addr,
    ports: (u16, u16),
    vni: u32,
    inner: &[u8],
) -> Vec<u8> {
    let seg = udp(
        outer_src.into(),
        outer_dst.into(),
        ports.0,
        ports.1,
        &vxlan(vni, inner),
    );
    let ip = Ipv4Builder::new(outer_src, outer_dst, IpProto::UDP).build(&seg);
    ethernet(mac_for(outer_dst), mac_for(outer_src), EtherType::IPV4, &ip)
}
