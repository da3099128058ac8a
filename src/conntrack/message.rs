//! ctnetlink messages (`NETLINK_NETFILTER`, subsystem `NFNL_SUBSYS_CTNETLINK`,
//! `linux/netfilter/nfnetlink_conntrack.h`), encoded by hand: an `nfgenmsg` header
//! (family, version, resource id) followed by `CTA_*` attributes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DecodeError, NetlinkDeserializable, NetlinkHeader, NetlinkSerializable};

use crate::kernel::{Attr, decode_attrs, encode_attrs};

/// `NFNL_SUBSYS_CTNETLINK`.
const SUBSYS_CTNETLINK: u16 = 1;
/// `IPCTNL_MSG_CT_GET`.
const MSG_CT_GET: u16 = 1;

/// `CTA_*` attributes of a connection.
pub mod cta {
    /// Original-direction tuple (nested).
    pub const TUPLE_ORIG: u16 = 1;
    /// Reply-direction tuple (nested).
    pub const TUPLE_REPLY: u16 = 2;
    /// `IPS_*` status bits, be32.
    pub const STATUS: u16 = 3;
    /// Protocol state (nested).
    pub const PROTOINFO: u16 = 4;
    /// Seconds left, be32.
    pub const TIMEOUT: u16 = 7;
    /// Conntrack mark, be32.
    pub const MARK: u16 = 8;
    /// Connection id, be32.
    pub const ID: u16 = 12;
    /// Zone, be16.
    pub const ZONE: u16 = 18;
    /// `CTA_TUPLE_IP` (nested, in a tuple).
    pub const TUPLE_IP: u16 = 1;
    /// `CTA_TUPLE_PROTO` (nested, in a tuple).
    pub const TUPLE_PROTO: u16 = 2;
    /// `CTA_IP_V4_SRC` … `CTA_IP_V6_DST`.
    pub const IP_V4_SRC: u16 = 1;
    /// IPv4 destination.
    pub const IP_V4_DST: u16 = 2;
    /// IPv6 source.
    pub const IP_V6_SRC: u16 = 3;
    /// IPv6 destination.
    pub const IP_V6_DST: u16 = 4;
    /// `CTA_PROTO_NUM`, u8.
    pub const PROTO_NUM: u16 = 1;
    /// Source port, be16.
    pub const PROTO_SRC_PORT: u16 = 2;
    /// Destination port, be16.
    pub const PROTO_DST_PORT: u16 = 3;
    /// ICMP id, be16.
    pub const PROTO_ICMP_ID: u16 = 4;
    /// ICMP type, u8.
    pub const PROTO_ICMP_TYPE: u16 = 5;
    /// ICMP code, u8.
    pub const PROTO_ICMP_CODE: u16 = 6;
    /// `CTA_PROTOINFO_TCP` (nested).
    pub const PROTOINFO_TCP: u16 = 1;
    /// `CTA_PROTOINFO_SCTP` (nested).
    pub const PROTOINFO_SCTP: u16 = 3;
    /// `CTA_PROTOINFO_TCP_STATE` / `_SCTP_STATE`, u8.
    pub const PROTOINFO_STATE: u16 = 1;
}

/// An nfnetlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfMessage {
    /// Netlink message type: subsystem << 8 | message.
    pub msg_type: u16,
    /// `nfgen_family` (`AF_*`; 0 = every family in a dump).
    pub family: u8,
    /// `NFNETLINK_V0`.
    pub version: u8,
    /// Resource id, be16 on the wire.
    pub res_id: u16,
    /// Attributes.
    pub attrs: Vec<Attr>,
}

impl NetlinkSerializable for NfMessage {
    fn message_type(&self) -> u16 {
        self.msg_type
    }

    fn buffer_len(&self) -> usize {
        4 + encode_attrs(&self.attrs).len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer[0] = self.family;
        buffer[1] = self.version;
        buffer[2..4].copy_from_slice(&self.res_id.to_be_bytes());
        buffer[4..].copy_from_slice(&encode_attrs(&self.attrs));
    }
}

impl NetlinkDeserializable for NfMessage {
    type Error = DecodeError;

    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, DecodeError> {
        if payload.len() < 4 {
            return Err(DecodeError::from(
                "nfnetlink message shorter than its header",
            ));
        }
        Ok(Self {
            msg_type: header.message_type,
            family: payload[0],
            version: payload[1],
            res_id: u16::from_be_bytes([payload[2], payload[3]]),
            attrs: decode_attrs(&payload[4..])?,
        })
    }
}

/// `IPCTNL_MSG_CT_GET` for every family, to be sent as a dump (`conntrack -L`).
pub fn dump_request() -> NfMessage {
    NfMessage {
        msg_type: (SUBSYS_CTNETLINK << 8) | MSG_CT_GET,
        family: 0,
        version: 0,
        res_id: 0,
        attrs: Vec::new(),
    }
}

/// One direction of a connection, as raw values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTuple {
    /// Source.
    pub src: IpAddr,
    /// Destination.
    pub dst: IpAddr,
    /// IP protocol number.
    pub proto: u8,
    /// Source port (TCP, UDP, SCTP, …).
    pub sport: Option<u16>,
    /// Destination port.
    pub dport: Option<u16>,
    /// ICMP type.
    pub icmp_type: Option<u8>,
    /// ICMP code.
    pub icmp_code: Option<u8>,
    /// ICMP echo id.
    pub icmp_id: Option<u16>,
}

fn find(attrs: &[Attr], kind: u16) -> Option<&Attr> {
    attrs.iter().find(|a| a.kind == kind)
}

fn ip(a: &Attr) -> Option<IpAddr> {
    match a.data.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(
            a.data[0], a.data[1], a.data[2], a.data[3],
        ))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&a.data);
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

fn be<T: TryFrom<u64>>(attrs: &[Attr], kind: u16) -> Option<T> {
    find(attrs, kind)?
        .be_uint()
        .and_then(|v| T::try_from(v).ok())
}

/// Parses a `CTA_TUPLE_*` attribute's children.
pub fn tuple(attrs: &[Attr]) -> Option<RawTuple> {
    let ipa = find(attrs, cta::TUPLE_IP)?.children().ok()?;
    let pa = find(attrs, cta::TUPLE_PROTO)?.children().ok()?;
    let (src, dst) = match (find(&ipa, cta::IP_V4_SRC), find(&ipa, cta::IP_V4_DST)) {
        (Some(s), Some(d)) => (ip(s)?, ip(d)?),
        _ => (
            ip(find(&ipa, cta::IP_V6_SRC)?)?,
            ip(find(&ipa, cta::IP_V6_DST)?)?,
        ),
    };
    Some(RawTuple {
        src,
        dst,
        proto: be(&pa, cta::PROTO_NUM)?,
        sport: be(&pa, cta::PROTO_SRC_PORT),
        dport: be(&pa, cta::PROTO_DST_PORT),
        icmp_type: be(&pa, cta::PROTO_ICMP_TYPE),
        icmp_code: be(&pa, cta::PROTO_ICMP_CODE),
        icmp_id: be(&pa, cta::PROTO_ICMP_ID),
    })
}

/// The fields of one `IPCTNL_MSG_CT_NEW` message of a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawConn {
    /// Original direction.
    pub original: RawTuple,
    /// Reply direction.
    pub reply: RawTuple,
    /// `IPS_*` bits.
    pub status: u32,
    /// TCP or SCTP state number.
    pub state: Option<u8>,
    /// Seconds left.
    pub timeout: Option<u32>,
    /// Mark.
    pub mark: u32,
    /// Id.
    pub id: Option<u32>,
    /// Zone.
    pub zone: Option<u16>,
}

/// Parses a connection of a dump; `None` if a mandatory part is missing.
pub fn conn(m: &NfMessage) -> Option<RawConn> {
    let a = &m.attrs;
    let original = tuple(&find(a, cta::TUPLE_ORIG)?.children().ok()?)?;
    let reply = tuple(&find(a, cta::TUPLE_REPLY)?.children().ok()?)?;
    let state = find(a, cta::PROTOINFO)
        .and_then(|p| p.children().ok())
        .and_then(|p| {
            let inner = find(&p, cta::PROTOINFO_TCP).or_else(|| find(&p, cta::PROTOINFO_SCTP))?;
            be(&inner.children().ok()?, cta::PROTOINFO_STATE)
        });
    Some(RawConn {
        original,
        reply,
        status: be(a, cta::STATUS).unwrap_or(0),
        state,
        timeout: be(a, cta::TIMEOUT),
        mark: be(a, cta::MARK).unwrap_or(0),
        id: be(a, cta::ID),
        zone: be(a, cta::ZONE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dump_request_is_ct_get_for_every_family() {
        let m = dump_request();
        assert_eq!(m.message_type(), 0x0101);
        let mut b = vec![0; m.buffer_len()];
        m.serialize(&mut b);
        assert_eq!(b, [0, 0, 0, 0]);
    }

    fn tuple_attr(kind: u16, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Attr {
        Attr::nest(
            kind,
            &[
                Attr::nest(
                    cta::TUPLE_IP,
                    &[
                        Attr::bytes(cta::IP_V4_SRC, src),
                        Attr::bytes(cta::IP_V4_DST, dst),
                    ],
                ),
                Attr::nest(
                    cta::TUPLE_PROTO,
                    &[
                        Attr::bytes(cta::PROTO_NUM, [6]),
                        Attr::be16(cta::PROTO_SRC_PORT, sport),
                        Attr::be16(cta::PROTO_DST_PORT, dport),
                    ],
                ),
            ],
        )
    }

    #[test]
    fn a_dnat_connection_parses() {
        // 192.168.228.150:40000 -> 192.168.228.148:80, DNATed to 172.18.0.2.
        let m = NfMessage {
            msg_type: 0x0100,
            family: 2,
            version: 0,
            res_id: 0,
            attrs: vec![
                tuple_attr(
                    cta::TUPLE_ORIG,
                    [192, 168, 228, 150],
                    [192, 168, 228, 148],
                    40000,
                    80,
                ),
                tuple_attr(
                    cta::TUPLE_REPLY,
                    [172, 18, 0, 2],
                    [192, 168, 228, 150],
                    80,
                    40000,
                ),
                Attr::bytes(cta::STATUS, 0x1aeu32.to_be_bytes()),
                Attr::bytes(cta::TIMEOUT, 118u32.to_be_bytes()),
                Attr::nest(
                    cta::PROTOINFO,
                    &[Attr::nest(
                        cta::PROTOINFO_TCP,
                        &[Attr::bytes(cta::PROTOINFO_STATE, [7])],
                    )],
                ),
            ],
        };
        let mut b = vec![0; m.buffer_len()];
        m.serialize(&mut b);
        let mut hdr = NetlinkHeader::default();
        hdr.message_type = 0x0100;
        let c = conn(&NfMessage::deserialize(&hdr, &b).unwrap()).unwrap();
        assert_eq!(c.original.dst, IpAddr::from([192, 168, 228, 148]));
        assert_eq!(c.reply.src, IpAddr::from([172, 18, 0, 2]));
        assert_eq!(
            (c.original.sport, c.reply.dport),
            (Some(40000), Some(40000))
        );
        assert_eq!(c.state, Some(7));
        assert_eq!(c.timeout, Some(118));
        assert_eq!(c.status & 0x20, 0x20, "DST_NAT");
    }
}
