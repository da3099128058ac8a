//! A fingerprint of the innermost IP packet, for finding the same packet at several hops.
//!
//! See [`FlowKey`] for which fields survive which kind of hop.

use std::net::IpAddr;

use serde::Serialize;

use super::ip::IpProto;
use super::ipv6::IPV6_FIXED_LEN;
use super::packet::{IpRef, Layer, Packet};
use super::transport::TcpFlags;

/// The transport-level part of a [`FlowKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TransportKey {
    /// No transport header decoded (unknown protocol, later fragment, or truncated).
    None,
    /// ICMP or ICMPv6.
    Icmp {
        /// Message type.
        icmp_type: u8,
        /// Message code.
        code: u8,
        /// Echo identifier (rewritten by NAT).
        id: Option<u16>,
        /// Echo sequence number.
        seq: Option<u16>,
    },
    /// TCP.
    Tcp {
        /// Source port (rewritten by SNAT).
        src_port: u16,
        /// Destination port (rewritten by DNAT).
        dst_port: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number.
        ack: u32,
        /// Flags.
        flags: TcpFlags,
    },
    /// UDP.
    Udp {
        /// Source port (rewritten by SNAT).
        src_port: u16,
        /// Destination port (rewritten by DNAT).
        dst_port: u16,
    },
}

impl TransportKey {
    /// The fields that survive NAT: ports and ICMP echo ids cleared.
    #[must_use]
    pub fn without_nat_fields(self) -> Self {
        match self {
            Self::Icmp {
                icmp_type,
                code,
                seq,
                ..
            } => Self::Icmp {
                icmp_type,
                code,
                id: None,
                seq,
            },
            Self::Tcp {
                seq, ack, flags, ..
            } => Self::Tcp {
                src_port: 0,
                dst_port: 0,
                seq,
                ack,
                flags,
            },
            Self::Udp { .. } => Self::Udp {
                src_port: 0,
                dst_port: 0,
            },
            Self::None => Self::None,
        }
    }
}

/// Identity of the innermost IP packet of a frame.
///
/// Seen at successive capture points (a container's veth, a bridge, the host's uplink,
/// the remote host after VXLAN decapsulation), one packet keeps most of its identity:
///
/// | field                          | survives routing | survives VXLAN encap | survives SNAT/DNAT |
/// |--------------------------------|------------------|----------------------|--------------------|
/// | protocol                       | yes              | yes (inner)          | yes                |
/// | src / dst address              | yes              | yes (inner)          | **no**             |
/// | IPv4 id / IPv6 fragment id     | yes              | yes (inner)          | yes (Linux keeps it) |
/// | IPv6 flow label                | yes              | yes (inner)          | usually (not compared across NAT) |
/// | ICMP type, code, seq           | yes              | yes                  | yes                |
/// | ICMP echo id                   | yes              | yes                  | **no** (NAT rewrites it like a port) |
/// | TCP seq, ack, flags            | yes              | yes                  | yes (unless a middlebox randomizes ISNs) |
/// | TCP / UDP ports                | yes              | yes                  | **no**             |
/// | IP payload length, payload hash | yes             | yes                  | yes (unless an ALG rewrites payload) |
/// | TTL / hop limit, checksums     | **no**           | —                    | **no**             |
///
/// TTL and checksums are therefore not part of the key. Use `==` on [`FlowKey`] to match a
/// packet between hops without NAT, and [`FlowKey::matches_across_nat`] to match it across
/// address or port translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FlowKey {
    /// Protocol of the IP payload.
    pub protocol: IpProto,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 identification, or the IPv6 fragment header's identification if present.
    pub ip_id: Option<u32>,
    /// IPv6 flow label (`None` for IPv4).
    pub flow_label: Option<u32>,
    /// Transport-level identity.
    pub transport: TransportKey,
    /// Length of the IP payload (transport header included) as the IP header declares it:
    /// the same at every hop, however much of each sighting was captured.
    pub payload_len: usize,
    /// [`payload_hash`] of the first [`HASHED_PAYLOAD`] bytes after the transport header
    /// (or after IP): a capture cut short by its snap length still has them, even with 50
    /// bytes of VXLAN headers in front.
    pub payload_hash: u64,
}

/// How many payload bytes [`FlowKey::payload_hash`] covers.
pub const HASHED_PAYLOAD: usize = 64;

impl FlowKey {
    /// True if `self` and `other` are the same packet, allowing for NAT: compares everything
    /// except addresses, ports and the ICMP echo id.
    pub fn matches_across_nat(&self, other: &Self) -> bool {
        self.nat_identity() == other.nat_identity()
    }

    /// What [`matches_across_nat`](Self::matches_across_nat) compares, as a hashable key:
    /// equal for every sighting of one packet, before and after NAT.
    pub fn nat_identity(&self) -> NatIdentity {
        (
            self.protocol,
            self.ip_id,
            self.transport.without_nat_fields(),
            self.payload_len,
            self.payload_hash,
        )
    }
}

/// The identity of a packet across NAT: protocol, IP id, transport fields NAT keeps,
/// payload length and hash.
pub type NatIdentity = (IpProto, Option<u32>, TransportKey, usize, u64);

/// A stable 64-bit FNV-1a hash of `data` (the same on every run, platform and version).
pub fn payload_hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Packet<'_> {
    /// The [`FlowKey`] of the innermost IP packet, or `None` if the innermost frame has no
    /// IP header (ARP, for instance).
    pub fn inner_key(&self) -> Option<FlowKey> {
        let layers = self.innermost();
        let ip_at = layers
            .iter()
            .rposition(|l| matches!(l, Layer::Ipv4(_) | Layer::Ipv6(_)))?;
        let ip = match layers.get(ip_at)? {
            Layer::Ipv4(h) => IpRef::V4(h),
            Layer::Ipv6(h) => IpRef::V6(h),
            _ => return None,
        };
        let (ip_id, flow_label) = match ip {
            IpRef::V4(h) => (Some(u32::from(h.id)), None),
            IpRef::V6(h) => (h.fragment.map(|f| f.id), Some(h.flow_label)),
        };
        let after = layers.get(ip_at + 1..).unwrap_or_default();
        let transport = match after.first() {
            Some(Layer::Icmp(h)) => TransportKey::Icmp {
                icmp_type: h.icmp_type,
                code: h.code,
                id: h.id,
                seq: h.seq,
            },
            Some(Layer::Icmpv6(h)) => TransportKey::Icmp {
                icmp_type: h.icmp_type,
                code: h.code,
                id: h.id,
                seq: h.seq,
            },
            Some(Layer::Tcp(h)) => TransportKey::Tcp {
                src_port: h.src_port,
                dst_port: h.dst_port,
                seq: h.seq,
                ack: h.ack,
                flags: h.flags,
            },
            Some(Layer::Udp(h)) => TransportKey::Udp {
                src_port: h.src_port,
                dst_port: h.dst_port,
            },
            _ => TransportKey::None,
        };
        let payload = after.iter().find_map(|l| match l {
            Layer::Payload(p) => Some(*p),
            _ => None,
        });
        let payload = payload.unwrap_or_default();
        let payload_len = match ip {
            IpRef::V4(h) => usize::from(h.total_len).saturating_sub(usize::from(h.header_len)),
            IpRef::V6(h) => {
                usize::from(h.payload_len).saturating_sub(h.header_len - IPV6_FIXED_LEN)
            }
        };
        Some(FlowKey {
            protocol: ip.protocol(),
            src: ip.src(),
            dst: ip.dst(),
            ip_id,
            flow_label,
            transport,
            payload_len,
            payload_hash: payload_hash(&payload[..payload.len().min(HASHED_PAYLOAD)]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        assert_eq!(payload_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(payload_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(payload_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn nat_matching_ignores_addresses_ports_and_echo_id() {
        let a = FlowKey {
            protocol: IpProto::ICMP,
            src: [10, 0, 0, 4].into(),
            dst: [10, 0, 0, 14].into(),
            ip_id: Some(5),
            flow_label: None,
            transport: TransportKey::Icmp {
                icmp_type: 8,
                code: 0,
                id: Some(7),
                seq: Some(1),
            },
            payload_len: 3,
            payload_hash: 9,
        };
        let mut b = a;
        b.src = [192, 168, 1, 2].into();
        b.transport = TransportKey::Icmp {
            icmp_type: 8,
            code: 0,
            id: Some(40000),
            seq: Some(1),
        };
        assert_ne!(a, b);
        assert!(a.matches_across_nat(&b));
        b.ip_id = Some(6);
        assert!(!a.matches_across_nat(&b));
    }
}
