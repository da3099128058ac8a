//! ARP for Ethernet/IPv4 (RFC 826).

use std::net::Ipv4Addr;

use serde::Serialize;

use super::error::{ErrorReason, be16, header};
use super::ethernet::{EtherType, MacAddr};

/// An Ethernet/IPv4 ARP packet (28 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Arp {
    /// Hardware type (1 = Ethernet).
    pub htype: u16,
    /// Protocol type (`0x0800` = IPv4).
    pub ptype: EtherType,
    /// Operation: 1 request, 2 reply (see [`Arp::REQUEST`], [`Arp::REPLY`]).
    pub op: u16,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address (all zero in a request).
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

impl Arp {
    /// ARP request operation code.
    pub const REQUEST: u16 = 1;
    /// ARP reply operation code.
    pub const REPLY: u16 = 2;

    /// True for a gratuitous ARP (sender and target IP are equal).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const ARP_LEN: usize = 28;

pub(crate) fn parse_arp(data: &[u8]) -> Result<(Arp, usize), ErrorReason> {
    let fixed = header::<8>(data)?;
    let (hlen, plen) = (fixed[4], fixed[5]);
    if hlen != 6 || plen != 4 {
        return Err(ErrorReason::UnsupportedArp { hlen, plen });
    }
    let h = header::<ARP_LEN>(data)?;
    let arp = Arp {
        htype: be16(h[0], h[1]),
        ptype: EtherType(be16(h[2], h[3])),
        op: be16(h[6], h[7]),
        sender_mac: MacAddr([h[8], h[9], h[10], h[11], h[12], h[13]]),
        sender_ip: Ipv4Addr::new(h[14], h[15], h[16], h[17]),
        target_mac: MacAddr([h[18], h[19], h[20], h[21], h[22], h[23]]),
        target_ip: Ipv4Addr::new(h[24], h[25], h[26], h[27]),
    };
    Ok((arp, ARP_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype ptype hlen plen op
        0x02, 0x42, 0x0a, 0x00, 0x00, 0x04, 10, 0, 0, 4, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 14, // target
    ];

    #[test]
    fn request() {
        let (a, n) = parse_arp(&REQUEST).unwrap();
        assert_eq!(n, 28);
        assert_eq!(a.op, Arp::REQUEST);
        assert_eq!(a.sender_mac.to_string(), "02:42:0a:00:00:04");
        assert_eq!(a.sender_ip, Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(a.target_mac, MacAddr::ZERO);
        assert_eq!(a.target_ip, Ipv4Addr::new(10, 0, 0, 14));
        assert!(!a.is_gratuitous());
    }

    #[test]
    fn truncated_and_unsupported() {
        assert_eq!(
            parse_arp(&REQUEST[..20]).unwrap_err(),
            ErrorReason::Truncated {
                needed: 28,
                available: 20
            }
        );
        assert_eq!(
            parse_arp(&REQUEST[..5]).unwrap_err(),
            ErrorReason::Truncated {
                needed: 8,
                available: 5
            }
        );
        let mut odd = REQUEST;
        odd[5] = 16;
        assert_eq!(
            parse_arp(&odd).unwrap_err(),
            ErrorReason::UnsupportedArp { hlen: 6, plen: 16 }
        );
    }
}
