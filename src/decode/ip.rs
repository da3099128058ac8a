//! IP protocol numbers, IPv4 (with options) and the TLV option format shared with TCP.

use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::checksum::internet_checksum;
use super::error::{ErrorReason, be16, header, prefix};
use super::hex::serialize_hex;

/// An IP protocol number (IPv4 protocol / IPv6 next header). Displays as a name or number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IpProto(pub u8);

impl IpProto {
    /// IPv6 hop-by-hop options extension header.
    pub const HOPOPT: Self = Self(0);
    /// ICMP for IPv4.
    pub const ICMP: Self = Self(1);
    /// IGMP.
    pub const IGMP: Self = Self(2);
    /// IPv4 encapsulated in IP (IP-in-IP, e.g. Calico IPIP mode).
    pub const IPIP: Self = Self(4);
    /// TCP.
    pub const TCP: Self = Self(6);
    /// UDP.
    pub const UDP: Self = Self(17);
    /// IPv6 encapsulated in IP (6in4 / SIT).
    pub const IPV6: Self = Self(41);
    /// IPv6 routing extension header.
    pub const ROUTING: Self = Self(43);
    /// IPv6 fragment extension header.
    pub const FRAGMENT: Self = Self(44);
    /// GRE.
    pub const GRE: Self = Self(47);
    /// ESP.
    pub const ESP: Self = Self(50);
    /// Authentication header.
    pub const AH: Self = Self(51);
    /// ICMP for IPv6.
    pub const ICMPV6: Self = Self(58);
    /// IPv6 "no next header".
    pub const NONE: Self = Self(59);
    /// IPv6 destination options extension header.
    pub const DSTOPTS: Self = Self(60);
    /// SCTP.
    pub const SCTP: Self = Self(132);

    /// A short protocol name, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::HOPOPT => "HOPOPT",
            Self::ICMP => "ICMP",
            Self::IGMP => "IGMP",
            Self::IPIP => "IPIP",
            Self::TCP => "TCP",
            Self::UDP => "UDP",
            Self::IPV6 => "IPv6",
            Self::ROUTING => "IPv6-Route",
            Self::FRAGMENT => "IPv6-Frag",
            Self::GRE => "GRE",
            Self::ESP => "ESP",
            Self::AH => "AH",
            Self::ICMPV6 => "ICMP6",
            Self::NONE => "IPv6-NoNxt",
            Self::DSTOPTS => "IPv6-Opts",
            Self::SCTP => "SCTP",
            _ => return None,
        })
    }
}

impl fmt::Display for IpProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "proto {}", self.0),
        }
    }
}

/// An IPv4 header, options included.
// The flag bits are plain booleans, as in the header.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ipv4<'a> {
    /// Header length in bytes (IHL * 4, 20..=60).
    pub header_len: u8,
    /// Differentiated services code point (6 bits).
    pub dscp: u8,
    /// Explicit congestion notification (2 bits).
    pub ecn: u8,
    /// Total length of header and payload, as claimed by the header.
    pub total_len: u16,
    /// Identification.
    pub id: u16,
    /// Don't-fragment flag.
    pub dont_fragment: bool,
    /// More-fragments flag.
    pub more_fragments: bool,
    /// The reserved ("evil") flag bit.
    pub reserved_flag: bool,
    /// Fragment offset in 8-byte units (multiply by 8 for bytes).
    pub fragment_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol of the payload.
    pub protocol: IpProto,
    /// Header checksum field.
    pub checksum: u16,
    /// True if the header checksum is correct.
    pub checksum_valid: bool,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Raw option bytes (`header_len - 20` of them); iterate with [`Ipv4::options`].
    #[serde(serialize_with = "serialize_hex")]
    pub options: &'a [u8],
}

impl<'a> Ipv4<'a> {
    /// True if this is a fragment (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.fragment_offset != 0
    }

    /// Iterates over the options as (kind, data) pairs.
    pub fn option_iter(&self) -> TlvOptions<'a> {
        TlvOptions(self.options)
    }
}

/// Minimum IPv4 header length.
pub const IPV4_MIN_LEN: usize = 20;

pub(crate) fn parse_ipv4(data: &[u8]) -> Result<(Ipv4<'_>, usize), ErrorReason> {
    let h = header::<IPV4_MIN_LEN>(data)?;
    let version = h[0] >> 4;
    if version != 4 {
        return Err(ErrorReason::BadVersion { found: version });
    }
    let header_len = usize::from(h[0] & 0x0f) * 4;
    if header_len < IPV4_MIN_LEN {
        return Err(ErrorReason::BadHeaderLength { value: header_len });
    }
    let full = prefix(data, header_len)?;
    let total_len = be16(h[2], h[3]);
    if usize::from(total_len) < header_len {
        return Err(ErrorReason::BadTotalLength {
            value: usize::from(total_len),
            min: header_len,
        });
    }
    let frag = be16(h[6], h[7]);
    let ip = Ipv4 {
        // header_len <= 60.
        header_len: u8::try_from(header_len).unwrap_or(u8::MAX),
        dscp: h[1] >> 2,
        ecn: h[1] & 3,
        total_len,
        id: be16(h[4], h[5]),
        reserved_flag: frag & 0x8000 != 0,
        dont_fragment: frag & 0x4000 != 0,
        more_fragments: frag & 0x2000 != 0,
        fragment_offset: frag & 0x1fff,
        ttl: h[8],
        protocol: IpProto(h[9]),
        checksum: be16(h[10], h[11]),
        checksum_valid: internet_checksum(full) == 0,
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        options: full.get(IPV4_MIN_LEN..).unwrap_or_default(),
    };
    Ok((ip, header_len))
}

/// Type-length-value options as used by IPv4 and TCP: kind 0 ends the list, kind 1 is a
/// one-byte no-op, any other kind is followed by a length byte covering kind and length.
/// Iteration stops at the end-of-list option or at the first malformed length.
#[derive(Debug, Clone)]
pub struct TlvOptions<'a>(pub &'a [u8]);

impl<'a> Iterator for TlvOptions<'a> {
    /// Option kind and its data (without the kind and length bytes).
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, rest) = self.0.split_first()?;
        match kind {
            0 => {
                self.0 = &[];
                None
            }
            1 => {
                self.0 = rest;
                Some((1, &[]))
            }
            _ => {
                let len = usize::from(*rest.first()?);
                let data = len.checked_sub(2).and_then(|n| rest.get(1..=n));
                let Some(data) = data else {
                    self.0 = &[];
                    return None;
                };
                self.0 = rest.get(len - 1..).unwrap_or_default();
                Some((kind, data))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real IPv4 header (ICMP echo from 10.0.0.4 to 10.0.0.14, id 0x1c46, DF, ttl 64).
    const V4: [u8; 20] = [
        0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x4b, 10, 0, 0, 4, 10, 0,
        0, 14,
    ];

    fn fix_checksum(h: &mut [u8]) {
        h[10] = 0;
        h[11] = 0;
        let c = internet_checksum(h).to_be_bytes();
        h[10] = c[0];
        h[11] = c[1];
    }

    #[test]
    fn ipv4_fields() {
        let mut h = V4;
        fix_checksum(&mut h);
        let (ip, n) = parse_ipv4(&h).unwrap();
        assert_eq!(n, 20);
        assert_eq!(ip.total_len, 84);
        assert_eq!(ip.id, 0x1c46);
        assert!(ip.dont_fragment && !ip.more_fragments && !ip.is_fragment());
        assert_eq!((ip.ttl, ip.protocol), (64, IpProto::ICMP));
        assert!(ip.checksum_valid);
        assert_eq!(ip.src, Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(ip.dst, Ipv4Addr::new(10, 0, 0, 14));
        h[8] = 63;
        assert!(!parse_ipv4(&h).unwrap().0.checksum_valid);
    }

    #[test]
    fn ipv4_options_and_errors() {
        // IHL 6 with a router-alert option (kind 148, len 4).
        let mut h = [0u8; 24];
        h[..20].copy_from_slice(&V4);
        h[0] = 0x46;
        h[20..].copy_from_slice(&[148, 4, 0, 0]);
        let (ip, n) = parse_ipv4(&h).unwrap();
        assert_eq!(n, 24);
        assert_eq!(
            ip.option_iter().collect::<Vec<_>>(),
            vec![(148, &[0u8, 0][..])]
        );
        assert_eq!(
            parse_ipv4(&h[..22]).unwrap_err(),
            ErrorReason::Truncated {
                needed: 24,
                available: 22
            }
        );
        h[0] = 0x44;
        assert_eq!(
            parse_ipv4(&h).unwrap_err(),
            ErrorReason::BadHeaderLength { value: 16 }
        );
        h[0] = 0x65;
        assert_eq!(
            parse_ipv4(&h).unwrap_err(),
            ErrorReason::BadVersion { found: 6 }
        );
        h[0] = 0x45;
        h[2] = 0;
        h[3] = 10;
        assert_eq!(
            parse_ipv4(&h).unwrap_err(),
            ErrorReason::BadTotalLength { value: 10, min: 20 }
        );
    }

    #[test]
    fn tlv_options() {
        let opts = [1, 1, 2, 4, 5, 0xb4, 3, 3, 7, 0, 9, 9];
        let v: Vec<_> = TlvOptions(&opts).collect();
        assert_eq!(v, vec![(1, &[][..]), (1, &[]), (2, &[5, 0xb4]), (3, &[7])]);
        assert_eq!(TlvOptions(&[2, 1, 0]).count(), 0);
        assert_eq!(TlvOptions(&[2, 9, 0]).count(), 0);
        assert_eq!(TlvOptions(&[2]).count(), 0);
    }
}
