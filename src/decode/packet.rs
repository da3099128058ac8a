//! The decoded form of a frame: [`Packet`], its [`Layer`]s and their byte [`Span`]s.

use std::net::IpAddr;
use std::ops::Range;

use serde::Serialize;

use super::arp::Arp;
use super::error::DecodeError;
use super::ethernet::{Ethernet, Sll, Vlan};
use super::hex::serialize_hex;
use super::icmp::{Icmp, Icmpv6, Igmp};
use super::ip::{IpProto, Ipv4};
use super::ipv6::Ipv6;
use super::transport::{Tcp, Udp};
use super::vxlan::Vxlan;
use super::{DecodeOptions, decode_linktype, linktype};

/// One decoded protocol layer. Serializes externally tagged, e.g. `{"ipv4": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer<'a> {
    /// Ethernet II header.
    Ethernet(Ethernet),
    /// Linux cooked capture header.
    Sll(Sll),
    /// 802.1Q / 802.1ad VLAN tag.
    Vlan(Vlan),
    /// ARP packet.
    Arp(Arp),
    /// IPv4 header.
    Ipv4(Ipv4<'a>),
    /// IPv6 header and extension headers.
    Ipv6(Ipv6),
    /// ICMP header.
    Icmp(Icmp),
    /// ICMPv6 header.
    Icmpv6(Icmpv6),
    /// IGMP message.
    Igmp(Igmp),
    /// UDP header.
    Udp(Udp),
    /// TCP header.
    Tcp(Tcp<'a>),
    /// VXLAN header; the layers after it belong to the inner frame.
    Vxlan(Vxlan),
    /// Bytes not decoded further (application data, unknown protocols, non-first fragments).
    /// Serializes as a hex string.
    Payload(#[serde(serialize_with = "serialize_hex")] &'a [u8]),
}

impl Layer<'_> {
    /// A short name for the layer kind, as used in [`DecodeError::layer`].
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ethernet(_) => "Ethernet",
            Self::Sll(_) => "SLL",
            Self::Vlan(_) => "VLAN",
            Self::Arp(_) => "ARP",
            Self::Ipv4(_) => "IPv4",
            Self::Ipv6(_) => "IPv6",
            Self::Icmp(_) => "ICMP",
            Self::Icmpv6(_) => "ICMPv6",
            Self::Igmp(_) => "IGMP",
            Self::Udp(_) => "UDP",
            Self::Tcp(_) => "TCP",
            Self::Vxlan(_) => "VXLAN",
            Self::Payload(_) => "Payload",
        }
    }
}

/// Where a layer sits in the decoded buffer: its header, or for [`Layer::Payload`] its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    /// Byte offset of the layer's first byte.
    pub offset: usize,
    /// Length of the layer's header in bytes.
    pub len: usize,
}

impl Span {
    /// The span as a range of byte indices.
    pub fn range(self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// A borrowed IPv4 or IPv6 header, for code that handles both alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRef<'p, 'a> {
    /// An IPv4 header.
    V4(&'p Ipv4<'a>),
    /// An IPv6 header.
    V6(&'p Ipv6),
}

impl IpRef<'_, '_> {
    /// Source address.
    pub fn src(self) -> IpAddr {
        match self {
            Self::V4(h) => h.src.into(),
            Self::V6(h) => h.src.into(),
        }
    }

    /// Destination address.
    pub fn dst(self) -> IpAddr {
        match self {
            Self::V4(h) => h.dst.into(),
            Self::V6(h) => h.dst.into(),
        }
    }

    /// TTL (IPv4) or hop limit (IPv6).
    pub fn ttl(self) -> u8 {
        match self {
            Self::V4(h) => h.ttl,
            Self::V6(h) => h.hop_limit,
        }
    }

    /// Protocol of the payload (after IPv6 extension headers).
    pub fn protocol(self) -> IpProto {
        match self {
            Self::V4(h) => h.protocol,
            Self::V6(h) => h.protocol,
        }
    }

    /// True if the header belongs to a fragment whose offset is not zero (so the payload
    /// does not start with a transport header).
    pub fn is_later_fragment(self) -> bool {
        match self {
            Self::V4(h) => h.fragment_offset != 0,
            Self::V6(h) => h.fragment.is_some_and(|f| f.offset != 0),
        }
    }
}

/// A decoded frame: every layer that could be decoded, in order from the outermost, and
/// the reason decoding stopped early, if it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packet<'a> {
    /// The decoded layers, outermost first.
    pub layers: Vec<Layer<'a>>,
    /// Byte span of each layer, parallel to [`Packet::layers`].
    pub spans: Vec<Span>,
    /// Why decoding stopped before the end, if it did.
    pub error: Option<DecodeError>,
    /// Length of the decoded buffer.
    pub len: usize,
}

macro_rules! innermost_accessor {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $name(&self) -> Option<&$ty> {
            self.innermost().iter().rev().find_map(|l| match l {
                Layer::$variant(x) => Some(x),
                _ => None,
            })
        }
    };
}

impl<'a> Packet<'a> {
    /// True if every byte was decoded without error.
    pub fn is_complete(&self) -> bool {
        self.error.is_none()
    }

    /// Layers paired with their byte spans.
    pub fn iter(&self) -> impl Iterator<Item = (&Layer<'a>, Span)> {
        self.layers.iter().zip(self.spans.iter().copied())
    }

    /// The layers of the outer frame: everything before the first VXLAN header
    /// (all layers if there is none).
    pub fn outer(&self) -> &[Layer<'a>] {
        let end = self
            .layers
            .iter()
            .position(|l| matches!(l, Layer::Vxlan(_)))
            .unwrap_or(self.layers.len());
        self.layers.get(..end).unwrap_or_default()
    }

    /// The layers of the encapsulated frame: everything after the last VXLAN header,
    /// or `None` if the packet is not VXLAN.
    pub fn inner(&self) -> Option<&[Layer<'a>]> {
        let vx = self
            .layers
            .iter()
            .rposition(|l| matches!(l, Layer::Vxlan(_)))?;
        self.layers.get(vx + 1..)
    }

    /// The innermost frame: [`Packet::inner`] if the packet is VXLAN, else all layers.
    pub fn innermost(&self) -> &[Layer<'a>] {
        self.inner().unwrap_or(&self.layers)
    }

    /// The outermost VXLAN header, if any.
    pub fn vxlan(&self) -> Option<&Vxlan> {
        self.layers.iter().find_map(|l| match l {
            Layer::Vxlan(v) => Some(v),
            _ => None,
        })
    }

    /// The outermost Ethernet header, if any.
    pub fn ethernet(&self) -> Option<&Ethernet> {
        self.layers.iter().find_map(|l| match l {
            Layer::Ethernet(e) => Some(e),
            _ => None,
        })
    }

    /// The innermost IP header (of either version) of the innermost frame.
    pub fn ip(&self) -> Option<IpRef<'_, 'a>> {
        self.innermost().iter().rev().find_map(|l| match l {
            Layer::Ipv4(h) => Some(IpRef::V4(h)),
            Layer::Ipv6(h) => Some(IpRef::V6(h)),
            _ => None,
        })
    }

    innermost_accessor!(
        /// The innermost IPv4 header of the innermost frame.
        ipv4, Ipv4, Ipv4<'a>
    );
    innermost_accessor!(
        /// The innermost IPv6 header of the innermost frame.
        ipv6, Ipv6, Ipv6
    );
    innermost_accessor!(
        /// The ARP packet of the innermost frame.
        arp, Arp, Arp
    );
    innermost_accessor!(
        /// The ICMP header of the innermost frame.
        icmp, Icmp, Icmp
    );
    innermost_accessor!(
        /// The ICMPv6 header of the innermost frame.
        icmpv6, Icmpv6, Icmpv6
    );
    innermost_accessor!(
        /// The IGMP message of the innermost frame.
        igmp, Igmp, Igmp
    );
    innermost_accessor!(
        /// The UDP header of the innermost frame.
        udp, Udp, Udp
    );
    innermost_accessor!(
        /// The TCP header of the innermost frame.
        tcp, Tcp, Tcp<'a>
    );

    /// For an ICMP or ICMPv6 error (unreachable, time exceeded, parameter problem, redirect,
    /// packet too big) in the innermost frame, decodes the original packet it quotes.
    /// The quote is usually cut short, so expect an [`ErrorReason::Truncated`] error
    /// in the result.
    ///
    /// [`ErrorReason::Truncated`]: super::ErrorReason::Truncated
    pub fn icmp_quote(&self, opts: &DecodeOptions) -> Option<Packet<'a>> {
        let layers = self.innermost();
        let at = layers.iter().rposition(|l| match l {
            Layer::Icmp(h) => matches!(h.icmp_type, 3 | 4 | 5 | 11 | 12),
            Layer::Icmpv6(h) => matches!(h.icmp_type, 1..=4),
            _ => false,
        })?;
        match layers.get(at + 1)? {
            Layer::Payload(quote) => Some(decode_linktype(linktype::RAW, quote, opts)),
            _ => None,
        }
    }

    /// The undecoded bytes at the end of the innermost frame, if any.
    pub fn payload(&self) -> Option<&'a [u8]> {
        match self.innermost().last() {
            Some(Layer::Payload(p)) => Some(p),
            _ => None,
        }
    }
}
