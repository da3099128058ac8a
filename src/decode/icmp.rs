//! Control protocols carried directly over IP: ICMP, ICMPv6 (with neighbor discovery) and IGMP.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::error::{ErrorReason, be16, be32, header, prefix};
use super::ethernet::MacAddr;

/// An ICMP (v4) header: the first 8 bytes of the message; the rest follows as payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Icmp {
    /// Message type (8 echo request, 0 echo reply, 3 unreachable, 11 time exceeded, ...).
    pub icmp_type: u8,
    /// Message code.
    pub code: u8,
    /// Checksum field.
    pub checksum: u16,
    /// Identifier, for echo and timestamp messages.
    pub id: Option<u16>,
    /// Sequence number, for echo and timestamp messages.
    pub seq: Option<u16>,
    /// Bytes 4..8 of the header as a number (id and seq, MTU, gateway, pointer, ...).
    pub rest: u32,
}

impl Icmp {
    /// Echo reply type.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable type.
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Echo request type.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded type.
    pub const TIME_EXCEEDED: u8 = 11;

    /// A name for the type, as tcpdump would print it.
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self.icmp_type {
            0 => "echo reply",
            3 => "destination unreachable",
            4 => "source quench",
            5 => "redirect",
            8 => "echo request",
            9 => "router advertisement",
            10 => "router solicitation",
            11 => "time exceeded",
            12 => "parameter problem",
            13 => "timestamp request",
            14 => "timestamp reply",
            _ => return None,
        })
    }

    /// A name for the code of unreachable and time-exceeded messages.
    pub fn code_name(&self) -> Option<&'static str> {
        Some(match (self.icmp_type, self.code) {
            (3, 0) => "net unreachable",
            (3, 1) => "host unreachable",
            (3, 2) => "protocol unreachable",
            (3, 3) => "port unreachable",
            (3, 4) => "need to frag",
            (3, 5) => "source route failed",
            (3, 9 | 10 | 13) => "administratively prohibited",
            (11, 0) => "in transit",
            (11, 1) => "reassembly",
            _ => return None,
        })
    }
}

/// Length of an ICMP header.
pub const ICMP_LEN: usize = 8;

pub(crate) fn parse_icmp(data: &[u8]) -> Result<(Icmp, usize), ErrorReason> {
    let h = header::<ICMP_LEN>(data)?;
    let has_id = matches!(h[0], 0 | 8 | 13 | 14);
    let icmp = Icmp {
        icmp_type: h[0],
        code: h[1],
        checksum: be16(h[2], h[3]),
        id: has_id.then(|| be16(h[4], h[5])),
        seq: has_id.then(|| be16(h[6], h[7])),
        rest: be32([h[4], h[5], h[6], h[7]]),
    };
    Ok((icmp, ICMP_LEN))
}

/// An ICMPv6 header. For neighbor solicitations and advertisements the target and the
/// link-layer address option are decoded and the whole message is the layer; for other
/// types the layer is the first 8 bytes and the rest follows as payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Icmpv6 {
    /// Message type (128 echo request, 129 echo reply, 135/136 neighbor sol./adv., ...).
    pub icmp_type: u8,
    /// Message code.
    pub code: u8,
    /// Checksum field.
    pub checksum: u16,
    /// Identifier, for echo messages.
    pub id: Option<u16>,
    /// Sequence number, for echo messages.
    pub seq: Option<u16>,
    /// Bytes 4..8 of the header as a number (id and seq, MTU, pointer, NA flags, ...).
    pub rest: u32,
    /// Target address of a neighbor solicitation or advertisement.
    pub target: Option<Ipv6Addr>,
    /// Source (NS) or target (NA) link-layer address option, when it is a MAC address.
    pub link_addr: Option<MacAddr>,
}

impl Icmpv6 {
    /// Echo request type.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply type.
    pub const ECHO_REPLY: u8 = 129;
    /// Neighbor solicitation type.
    pub const NEIGHBOR_SOLICITATION: u8 = 135;
    /// Neighbor advertisement type.
    pub const NEIGHBOR_ADVERTISEMENT: u8 = 136;

    /// A name for the type, as tcpdump would print it.
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self.icmp_type {
            1 => "destination unreachable",
            2 => "packet too big",
            3 => "time exceeded",
            4 => "parameter problem",
            128 => "echo request",
            129 => "echo reply",
            130 => "multicast listener query",
            131 => "multicast listener report",
            132 => "multicast listener done",
            133 => "router solicitation",
            134 => "router advertisement",
            135 => "neighbor solicitation",
            136 => "neighbor advertisement",
            137 => "redirect",
            143 => "multicast listener report v2",
            _ => return None,
        })
    }
}

/// Length of the fixed ICMPv6 header.
pub const ICMPV6_LEN: usize = 8;

pub(crate) fn parse_icmpv6(data: &[u8]) -> Result<(Icmpv6, usize), ErrorReason> {
    let h = header::<ICMPV6_LEN>(data)?;
    let is_echo = matches!(h[0], 128 | 129);
    let mut icmp = Icmpv6 {
        icmp_type: h[0],
        code: h[1],
        checksum: be16(h[2], h[3]),
        id: is_echo.then(|| be16(h[4], h[5])),
        seq: is_echo.then(|| be16(h[6], h[7])),
        rest: be32([h[4], h[5], h[6], h[7]]),
        target: None,
        link_addr: None,
    };
    if !matches!(h[0], 135 | 136) {
        return Ok((icmp, ICMPV6_LEN));
    }
    let nd = header::<24>(data)?;
    let mut target = [0u8; 16];
    target.copy_from_slice(&nd[8..24]);
    icmp.target = Some(Ipv6Addr::from(target));
    let mut opts = data.get(24..).unwrap_or_default();
    while let Some(&[kind, units]) = opts.first_chunk::<2>() {
        let len = usize::from(units) * 8;
        let Ok(opt) = prefix(opts, len) else { break };
        if len == 0 {
            break;
        }
        if let (1 | 2, &[_, 1, a, b, c, d, e, f]) = (kind, opt) {
            icmp.link_addr = Some(MacAddr([a, b, c, d, e, f]));
        }
        opts = opts.get(len..).unwrap_or_default();
    }
    Ok((icmp, data.len()))
}

/// One group record of an IGMPv3 membership report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IgmpGroupRecord {
    /// Record type (1 mode-is-include ... 6 block-old-sources).
    pub record_type: u8,
    /// Multicast group address.
    pub group: Ipv4Addr,
    /// Number of source addresses in the record.
    pub sources: u16,
}

/// An IGMP message (v1, v2 or v3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Igmp {
    /// Message type (0x11 query, 0x12 v1 report, 0x16 v2 report, 0x17 leave, 0x22 v3 report).
    pub igmp_type: u8,
    /// IGMP version inferred from type and length (1, 2 or 3; 0 if unknown).
    pub version: u8,
    /// Max response time/code (unused in v1 and v3 reports).
    pub max_resp: u8,
    /// Checksum field.
    pub checksum: u16,
    /// Group address of queries, v1/v2 reports and leaves.
    pub group: Option<Ipv4Addr>,
    /// Group records of a v3 report.
    pub records: Vec<IgmpGroupRecord>,
}

impl Igmp {
    /// A name for the type, as tcpdump would print it.
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self.igmp_type {
            0x11 => "query",
            0x12 | 0x16 | 0x22 => "report",
            0x17 => "leave",
            _ => return None,
        })
    }
}

/// Minimum IGMP message length.
pub const IGMP_MIN_LEN: usize = 8;

pub(crate) fn parse_igmp(data: &[u8]) -> Result<(Igmp, usize), ErrorReason> {
    let h = header::<IGMP_MIN_LEN>(data)?;
    let mut igmp = Igmp {
        igmp_type: h[0],
        version: 0,
        max_resp: h[1],
        checksum: be16(h[2], h[3]),
        group: None,
        records: Vec::new(),
    };
    let mut len = IGMP_MIN_LEN;
    match h[0] {
        0x11 if data.len() >= 12 => {
            igmp.version = 3;
            let q = header::<12>(data)?;
            len = 12 + usize::from(be16(q[10], q[11])) * 4;
            prefix(data, len)?;
        }
        0x11 => igmp.version = if h[1] == 0 { 1 } else { 2 },
        0x12 => igmp.version = 1,
        0x16 | 0x17 => igmp.version = 2,
        0x22 => {
            igmp.version = 3;
            len = parse_v3_records(data, be16(h[6], h[7]), &mut igmp.records)?;
        }
        _ => {}
    }
    if h[0] != 0x22 {
        igmp.group = Some(Ipv4Addr::new(h[4], h[5], h[6], h[7]));
    }
    Ok((igmp, len))
}

/// Parses `count` IGMPv3 group records after the 8-byte report header; returns the length used.
fn parse_v3_records(
    data: &[u8],
    count: u16,
    out: &mut Vec<IgmpGroupRecord>,
) -> Result<usize, ErrorReason> {
    let mut off = IGMP_MIN_LEN;
    for _ in 0..count {
        let rec = data.get(off..).unwrap_or_default();
        let r = header::<8>(rec).map_err(|_| ErrorReason::Truncated {
            needed: off + 8,
            available: data.len(),
        })?;
        let sources = be16(r[2], r[3]);
        let rec_len = 8 + usize::from(sources) * 4 + usize::from(r[1]) * 4;
        if rec.len() < rec_len {
            return Err(ErrorReason::Truncated {
                needed: off + rec_len,
                available: data.len(),
            });
        }
        out.push(IgmpGroupRecord {
            record_type: r[0],
            group: Ipv4Addr::new(r[4], r[5], r[6], r[7]),
            sources,
        });
        off += rec_len;
    }
    Ok(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_echo_and_error() {
        let (e, n) = parse_icmp(&[8, 0, 0xf7, 0xf7, 0, 7, 0, 1, 0xaa]).unwrap();
        assert_eq!(n, 8);
        assert_eq!(
            (e.id, e.seq, e.type_name()),
            (Some(7), Some(1), Some("echo request"))
        );
        let (u, _) = parse_icmp(&[3, 3, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((u.id, u.code_name()), (None, Some("port unreachable")));
        assert!(parse_icmp(&[8, 0, 0]).is_err());
    }

    #[test]
    fn icmpv6_neighbor_solicitation() {
        let mut ns = vec![135, 0, 0x12, 0x34, 0, 0, 0, 0];
        ns.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        ns.extend_from_slice(&[1, 1, 2, 0x42, 0, 0, 0, 9]);
        let (m, n) = parse_icmpv6(&ns).unwrap();
        assert_eq!(n, 32);
        assert_eq!(m.target, Some("fd00::1".parse().unwrap()));
        assert_eq!(m.link_addr, Some(MacAddr([2, 0x42, 0, 0, 0, 9])));
        assert_eq!(m.type_name(), Some("neighbor solicitation"));
        assert!(parse_icmpv6(&ns[..20]).is_err());
        let (e, n) = parse_icmpv6(&[128, 0, 0, 0, 0, 5, 0, 6, 1, 2]).unwrap();
        assert_eq!((n, e.id, e.seq, e.target), (8, Some(5), Some(6), None));
    }

    #[test]
    fn igmp_versions() {
        let (r, n) = parse_igmp(&[0x16, 0, 0, 0, 239, 1, 2, 3]).unwrap();
        assert_eq!(
            (n, r.version, r.group),
            (8, 2, Some(Ipv4Addr::new(239, 1, 2, 3)))
        );
        let (q, _) = parse_igmp(&[0x11, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(q.version, 1);
        let q3 = [0x11, 100, 0, 0, 0, 0, 0, 0, 2, 125, 0, 1, 10, 0, 0, 1];
        let (q, n) = parse_igmp(&q3).unwrap();
        assert_eq!((q.version, n), (3, 16));
        assert!(parse_igmp(&q3[..14]).is_err());
        let v3 = [
            0x22, 0, 0, 0, 0, 0, 0, 2, // header, 2 records
            4, 0, 0, 0, 239, 0, 0, 1, // record 1: exclude, no sources
            3, 0, 0, 1, 239, 0, 0, 2, 10, 0, 0, 9, // record 2: include, 1 source
        ];
        let (r, n) = parse_igmp(&v3).unwrap();
        assert_eq!((r.version, n, r.group, r.records.len()), (3, 28, None, 2));
        assert_eq!(r.records[1].group, Ipv4Addr::new(239, 0, 0, 2));
        assert_eq!(r.records[1].sources, 1);
        assert_eq!(
            parse_igmp(&v3[..26]).unwrap_err(),
            ErrorReason::Truncated {
                needed: 28,
                available: 26
            }
        );
    }
}
