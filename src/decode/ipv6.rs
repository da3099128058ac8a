//! IPv6, with its common extension headers (hop-by-hop, routing, fragment, destination
//! options, AH) skipped and recorded.

use std::net::Ipv6Addr;

use serde::Serialize;

use super::error::{ErrorReason, be16, be32, header, prefix};
use super::ip::IpProto;

/// An IPv6 extension header that was skipped over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ipv6Extension {
    /// Which extension header (hop-by-hop, routing, fragment, destination options, AH).
    pub kind: IpProto,
    /// Its length in bytes.
    pub len: u16,
}

/// The contents of an IPv6 fragment extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ipv6Fragment {
    /// Fragment offset in 8-byte units.
    pub offset: u16,
    /// More-fragments flag.
    pub more: bool,
    /// Identification.
    pub id: u32,
}

/// An IPv6 header with any extension headers that follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ipv6 {
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Payload length (extension headers included), as claimed by the header.
    pub payload_len: u16,
    /// The next-header field of the fixed header.
    pub next_header: IpProto,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Extension headers skipped, in order.
    pub extensions: Vec<Ipv6Extension>,
    /// The fragment header, if there was one.
    pub fragment: Option<Ipv6Fragment>,
    /// Protocol of the payload after all extension headers.
    pub protocol: IpProto,
    /// Length of the fixed header plus extension headers, in bytes.
    pub header_len: usize,
}

impl Ipv6 {
    /// True if a fragment header is present.
    pub fn is_fragment(&self) -> bool {
        self.fragment.is_some()
    }
}

/// Length of the fixed IPv6 header.
pub const IPV6_FIXED_LEN: usize = 40;

pub(crate) fn parse_ipv6(data: &[u8]) -> Result<(Ipv6, usize), ErrorReason> {
    let h = header::<IPV6_FIXED_LEN>(data)?;
    let version = h[0] >> 4;
    if version != 6 {
        return Err(ErrorReason::BadVersion { found: version });
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    dst.copy_from_slice(&h[24..40]);
    let mut ip = Ipv6 {
        traffic_class: (h[0] << 4) | (h[1] >> 4),
        flow_label: be32([0, h[1] & 0x0f, h[2], h[3]]),
        payload_len: be16(h[4], h[5]),
        next_header: IpProto(h[6]),
        hop_limit: h[7],
        src: Ipv6Addr::from(src),
        dst: Ipv6Addr::from(dst),
        extensions: Vec::new(),
        fragment: None,
        protocol: IpProto(h[6]),
        header_len: IPV6_FIXED_LEN,
    };
    let mut off = IPV6_FIXED_LEN;
    loop {
        let kind = ip.protocol;
        let rest = data.get(off..).unwrap_or_default();
        let truncated = |need: usize| ErrorReason::Truncated {
            needed: off + need,
            available: data.len(),
        };
        let len = match kind {
            IpProto::HOPOPT | IpProto::ROUTING | IpProto::DSTOPTS => {
                let e = header::<2>(rest).map_err(|_| truncated(2))?;
                (usize::from(e[1]) + 1) * 8
            }
            IpProto::AH => {
                let e = header::<2>(rest).map_err(|_| truncated(2))?;
                (usize::from(e[1]) + 2) * 4
            }
            IpProto::FRAGMENT => {
                let e = header::<8>(rest).map_err(|_| truncated(8))?;
                let fo = be16(e[2], e[3]);
                ip.fragment = Some(Ipv6Fragment {
                    offset: fo >> 3,
                    more: fo & 1 != 0,
                    id: be32([e[4], e[5], e[6], e[7]]),
                });
                8
            }
            _ => break,
        };
        let ext = prefix(rest, len).map_err(|_| truncated(len))?;
        ip.protocol = IpProto(ext.first().copied().unwrap_or(IpProto::NONE.0));
        ip.extensions.push(Ipv6Extension {
            kind,
            // Extension headers are at most 2048 bytes long.
            len: u16::try_from(len).unwrap_or(u16::MAX),
        });
        off += len;
        ip.header_len = off;
        if ip.fragment.is_some_and(|f| f.offset != 0) {
            // The headers of a non-first fragment belong to the first fragment.
            break;
        }
    }
    Ok((ip, off))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_header(next: u8, payload_len: u16) -> Vec<u8> {
        let mut h = vec![0x60, 0x0a, 0xbc, 0xde];
        h.extend_from_slice(&payload_len.to_be_bytes());
        h.extend_from_slice(&[next, 64]);
        h.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        h.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        h
    }

    #[test]
    fn ipv6_with_extensions() {
        let mut p = v6_header(0, 32);
        p.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]); // hop-by-hop -> dstopts
        p.extend_from_slice(&[44, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // -> frag
        p.extend_from_slice(&[58, 0, 0, 1, 0, 0, 0, 42]); // frag: off 0, M, id 42 -> ICMPv6
        let (ip, n) = parse_ipv6(&p).unwrap();
        assert_eq!(n, 72);
        assert_eq!(ip.header_len, 72);
        assert_eq!(ip.traffic_class, 0x00);
        assert_eq!(ip.flow_label, 0xabcde);
        assert_eq!(ip.hop_limit, 64);
        assert_eq!(ip.next_header, IpProto::HOPOPT);
        assert_eq!(ip.protocol, IpProto::ICMPV6);
        assert_eq!(ip.extensions.len(), 3);
        assert_eq!(ip.extensions[1].len, 16);
        assert_eq!(
            ip.fragment,
            Some(Ipv6Fragment {
                offset: 0,
                more: true,
                id: 42
            })
        );
        assert_eq!(
            parse_ipv6(&p[..60]).unwrap_err(),
            ErrorReason::Truncated {
                needed: 64,
                available: 60
            }
        );
        assert_eq!(
            parse_ipv6(&p[..41]).unwrap_err(),
            ErrorReason::Truncated {
                needed: 42,
                available: 41
            }
        );
    }

    #[test]
    fn ipv6_plain_and_bad_version() {
        let p = v6_header(17, 8);
        let (ip, n) = parse_ipv6(&p).unwrap();
        assert_eq!((n, ip.protocol, ip.extensions.len()), (40, IpProto::UDP, 0));
        let mut bad = p.clone();
        bad[0] = 0x45;
        assert_eq!(
            parse_ipv6(&bad).unwrap_err(),
            ErrorReason::BadVersion { found: 4 }
        );
        assert!(parse_ipv6(&p[..39]).is_err());
    }
}
