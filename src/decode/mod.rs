//! A pure, zero-copy packet decoder for the frames seen in container networking labs.
//!
//! [`decode`] takes an Ethernet frame and returns a [`Packet`]: the list of [`Layer`]s it
//! could decode (Ethernet, 802.1Q/802.1ad VLAN tags, ARP, IPv4, IPv6 with extension
//! headers, ICMP, ICMPv6, IGMP, UDP, TCP, VXLAN and the frame VXLAN carries, IP-in-IP),
//! the byte [`Span`] of each, and — if a layer was truncated or malformed — a
//! [`DecodeError`] saying which layer, at which offset, and why. It never panics on any
//! input, and payloads ([`Layer::Payload`]) and option bytes borrow from the input rather
//! than being copied.
//!
//! ```
//! use vxlab::decode::{decode, DecodeOptions};
//!
//! let frame = vxlab::decode::build::icmp_echo_frame(
//!     [10, 0, 0, 4].into(), [10, 0, 0, 14].into(), true, 7, 1, b"hi");
//! let pkt = decode(&frame, &DecodeOptions::default());
//! assert!(pkt.is_complete());
//! assert_eq!(pkt.icmp().unwrap().seq, Some(1));
//! assert_eq!(pkt.summary(), "10.0.0.4 > 10.0.0.14: ICMP echo request id 7 seq 1 ttl 64");
//! ```
//!
//! Captures from other link types (Linux cooked capture, raw IP) go through
//! [`decode_linktype`]. [`Packet::summary`] gives a tcpdump-like line and
//! [`Packet::inner_key`] a fingerprint for matching one packet across hops.

// Protocol names such as ICMPv6, EtherType and QinQ are not code identifiers.
#![allow(clippy::doc_markdown)]

mod arp;
pub mod build;
mod checksum;
mod driver;
mod error;
mod ethernet;
mod flow;
mod hex;
mod icmp;
mod ip;
mod ipv6;
mod packet;
mod summary;
mod transport;
mod vxlan;

pub use arp::{ARP_LEN, Arp};
pub use checksum::{Checksum, internet_checksum, transport_checksum};
pub use error::{DecodeError, ErrorReason};
pub use ethernet::{ETHERNET_LEN, EtherType, Ethernet, LinkAddr, MacAddr, Sll, Vlan};
pub use flow::{FlowKey, NatIdentity, TransportKey, payload_hash};
pub use hex::Hex;
pub use icmp::{ICMP_LEN, ICMPV6_LEN, IGMP_MIN_LEN, Icmp, Icmpv6, Igmp, IgmpGroupRecord};
pub use ip::{IPV4_MIN_LEN, IpProto, Ipv4, TlvOptions};
pub use ipv6::{IPV6_FIXED_LEN, Ipv6, Ipv6Extension, Ipv6Fragment};
pub use packet::{IpRef, Layer, Packet, Span};
pub use transport::{TCP_MIN_LEN, Tcp, TcpFlags, TcpOptions, UDP_LEN, Udp};
pub use vxlan::{VXLAN_LEN, VXLAN_PORT, VXLAN_PORT_LINUX, Vxlan};

use driver::Step;

/// Decoder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// UDP destination ports whose payload is decoded as VXLAN. Default: 4789 and 8472.
    pub vxlan_ports: Vec<u16>,
    /// Most nested encapsulations (VXLAN, IP-in-IP) decoded before stopping with
    /// [`ErrorReason::TooDeep`]. Default: 4.
    pub max_depth: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            vxlan_ports: vec![VXLAN_PORT, VXLAN_PORT_LINUX],
            max_depth: 4,
        }
    }
}

impl DecodeOptions {
    /// Default options with the given VXLAN ports.
    pub fn with_vxlan_ports(ports: impl IntoIterator<Item = u16>) -> Self {
        Self {
            vxlan_ports: ports.into_iter().collect(),
            ..Self::default()
        }
    }
}

/// pcap `LINKTYPE_*` values understood by [`decode_linktype`].
pub mod linktype {
    /// Ethernet II.
    pub const ETHERNET: u32 = 1;
    /// Raw IPv4 or IPv6, told apart by the version nibble.
    pub const RAW: u32 = 101;
    /// Linux cooked capture v1 (DLT 113), what `tcpdump -i any` writes.
    pub const LINUX_SLL: u32 = 113;
    /// Raw IPv4.
    pub const IPV4: u32 = 228;
    /// Raw IPv6.
    pub const IPV6: u32 = 229;
    /// Linux cooked capture v2 (DLT 276).
    pub const LINUX_SLL2: u32 = 276;
}

/// Decodes an Ethernet II frame as far as possible.
pub fn decode<'a>(frame: &'a [u8], opts: &DecodeOptions) -> Packet<'a> {
    driver::run(frame, opts, Step::Ethernet)
}

/// Decodes a captured packet of the given pcap link type (see [`linktype`]). An unknown
/// link type yields the whole buffer as [`Layer::Payload`] and an
/// [`ErrorReason::UnsupportedLinkType`] error.
pub fn decode_linktype<'a>(linktype: u32, data: &'a [u8], opts: &DecodeOptions) -> Packet<'a> {
    let first = match linktype {
        linktype::ETHERNET => Step::Ethernet,
        linktype::LINUX_SLL => Step::Sll,
        linktype::LINUX_SLL2 => Step::Sll2,
        linktype::IPV4 => Step::Ipv4,
        linktype::IPV6 => Step::Ipv6,
        linktype::RAW => match data.first().map(|b| b >> 4) {
            Some(6) => Step::Ipv6,
            _ => Step::Ipv4,
        },
        _ => {
            let mut pkt = driver::run(data, opts, Step::Payload);
            pkt.error = Some(DecodeError {
                layer: "link",
                offset: 0,
                reason: ErrorReason::UnsupportedLinkType { linktype },
            });
            return pkt;
        }
    };
    driver::run(data, opts, first)
}

#[cfg(test)]
mod tests;
