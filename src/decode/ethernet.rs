//! Link layers: Ethernet II, 802.1Q / 802.1ad VLAN tags and Linux cooked capture (SLL, SLL2).

use std::fmt;

use serde::{Serialize, Serializer};

use super::error::{ErrorReason, be16, be32, header};

/// A 48-bit MAC address. Displays and serializes as `aa:bb:cc:dd:ee:ff`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: Self = Self([0xff; 6]);
    /// The all-zero address (ARP requests carry it as the unknown target).
    pub const ZERO: Self = Self([0; 6]);

    /// True for a group (multicast or broadcast) address.
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An EtherType (or, below `0x0600`, an IEEE 802.3 length). Displays as a name or `0x%04x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4.
    pub const IPV4: Self = Self(0x0800);
    /// ARP.
    pub const ARP: Self = Self(0x0806);
    /// IPv6.
    pub const IPV6: Self = Self(0x86dd);
    /// 802.1Q VLAN tag (C-tag).
    pub const VLAN: Self = Self(0x8100);
    /// 802.1ad service VLAN tag (S-tag, QinQ).
    pub const QINQ: Self = Self(0x88a8);
    /// Pre-standard QinQ tag used by some switches.
    pub const QINQ_OLD: Self = Self(0x9100);

    /// True for the tag protocol identifiers that introduce a [`Vlan`] tag.
    pub fn is_vlan_tag(self) -> bool {
        matches!(self, Self::VLAN | Self::QINQ | Self::QINQ_OLD)
    }

    /// A short protocol name, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::IPV4 => "IPv4",
            Self::ARP => "ARP",
            Self::IPV6 => "IPv6",
            Self::VLAN => "802.1Q",
            Self::QINQ => "802.1ad",
            Self(0x88cc) => "LLDP",
            Self(0x8809) => "Slow Protocols",
            Self(0x8035) => "RARP",
            _ => return None,
        })
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

/// An Ethernet II header (14 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ethernet {
    /// Destination MAC address.
    pub dst: MacAddr,
    /// Source MAC address.
    pub src: MacAddr,
    /// The type field: the payload's EtherType, a VLAN TPID, or an 802.3 length.
    pub ethertype: EtherType,
}

/// Length of an Ethernet II header.
pub const ETHERNET_LEN: usize = 14;

pub(crate) fn parse_ethernet(data: &[u8]) -> Result<(Ethernet, usize), ErrorReason> {
    let h = header::<ETHERNET_LEN>(data)?;
    let eth = Ethernet {
        dst: MacAddr([h[0], h[1], h[2], h[3], h[4], h[5]]),
        src: MacAddr([h[6], h[7], h[8], h[9], h[10], h[11]]),
        ethertype: EtherType(be16(h[12], h[13])),
    };
    Ok((eth, ETHERNET_LEN))
}

/// An 802.1Q or 802.1ad VLAN tag (4 bytes following the TPID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Vlan {
    /// The tag protocol identifier that introduced this tag (`0x8100`, `0x88a8`, `0x9100`).
    pub tpid: EtherType,
    /// Priority code point (3 bits).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier (12 bits).
    pub vid: u16,
    /// EtherType of what follows the tag.
    pub ethertype: EtherType,
}

pub(crate) fn parse_vlan(data: &[u8], tpid: EtherType) -> Result<(Vlan, usize), ErrorReason> {
    let h = header::<4>(data)?;
    let tci = be16(h[0], h[1]);
    let vlan = Vlan {
        tpid,
        pcp: h[0] >> 5,
        dei: tci & 0x1000 != 0,
        vid: tci & 0x0fff,
        ethertype: EtherType(be16(h[2], h[3])),
    };
    Ok((vlan, 4))
}

/// A link-layer address of up to 8 bytes, as carried by Linux cooked captures.
/// Displays and serializes as colon-separated hex of its `len` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LinkAddr {
    /// Number of meaningful bytes in `bytes` (at most 8).
    pub len: u8,
    /// The address bytes, zero-padded.
    pub bytes: [u8; 8],
}

impl LinkAddr {
    /// The meaningful bytes of the address.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes
            .get(..usize::from(self.len))
            .unwrap_or(&self.bytes)
    }

    /// The address as a MAC address, if it is 6 bytes long.
    pub fn mac(&self) -> Option<MacAddr> {
        let b = self.bytes;
        (self.len == 6).then_some(MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]]))
    }
}

impl fmt::Display for LinkAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for LinkAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for LinkAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A Linux cooked capture header: SLL (`LINKTYPE_LINUX_SLL`, 16 bytes) or
/// SLL2 (`LINKTYPE_LINUX_SLL2`, 20 bytes), as produced by capturing on the `any` device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sll {
    /// 1 for SLL, 2 for SLL2.
    pub version: u8,
    /// Packet type: 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us.
    pub packet_type: u16,
    /// `ARPHRD_*` hardware type of the interface (1 = Ethernet).
    pub hatype: u16,
    /// Link-layer source address.
    pub addr: LinkAddr,
    /// Interface index (SLL2 only).
    pub ifindex: Option<u32>,
    /// Protocol of the payload: an EtherType when `>= 0x0600`.
    pub protocol: EtherType,
}

impl Sll {
    /// A short name for [`Sll::packet_type`], as tcpdump prints it.
    pub fn direction(&self) -> &'static str {
        match self.packet_type {
            0 => "In",
            1 => "B",
            2 => "M",
            3 => "P",
            4 => "Out",
            _ => "?",
        }
    }
}

fn link_addr(len: u16, raw: [u8; 8]) -> LinkAddr {
    let len = u8::try_from(len.min(8)).unwrap_or(8);
    let mut bytes = raw;
    for (i, b) in bytes.iter_mut().enumerate() {
        if i >= usize::from(len) {
            *b = 0;
        }
    }
    LinkAddr { len, bytes }
}

pub(crate) fn parse_sll(data: &[u8]) -> Result<(Sll, usize), ErrorReason> {
    let h = header::<16>(data)?;
    let raw = [h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13]];
    let sll = Sll {
        version: 1,
        packet_type: be16(h[0], h[1]),
        hatype: be16(h[2], h[3]),
        addr: link_addr(be16(h[4], h[5]), raw),
        ifindex: None,
        protocol: EtherType(be16(h[14], h[15])),
    };
    Ok((sll, 16))
}

pub(crate) fn parse_sll2(data: &[u8]) -> Result<(Sll, usize), ErrorReason> {
    let h = header::<20>(data)?;
    let raw = [h[12], h[13], h[14], h[15], h[16], h[17], h[18], h[19]];
    let sll = Sll {
        version: 2,
        protocol: EtherType(be16(h[0], h[1])),
        ifindex: Some(be32([h[4], h[5], h[6], h[7]])),
        hatype: be16(h[8], h[9]),
        packet_type: u16::from(h[10]),
        addr: link_addr(u16::from(h[11]), raw),
    };
    Ok((sll, 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_display() {
        let m = MacAddr([0xaa, 0xbb, 0x0c, 0, 1, 0xff]);
        assert_eq!(m.to_string(), "aa:bb:0c:00:01:ff");
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"aa:bb:0c:00:01:ff\"");
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(!m.is_multicast());
    }

    #[test]
    fn vlan_tag_fields() {
        let (v, n) = parse_vlan(&[0xb0, 0x64, 0x08, 0x00], EtherType::VLAN).unwrap();
        assert_eq!(n, 4);
        assert_eq!((v.pcp, v.dei, v.vid), (5, true, 100));
        assert_eq!(v.ethertype, EtherType::IPV4);
    }

    #[test]
    fn sll_headers() {
        let mut d = vec![0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0xee, 0xee, 0x08, 0x00];
        let (s, n) = parse_sll(&d).unwrap();
        assert_eq!((n, s.direction(), s.protocol), (16, "Out", EtherType::IPV4));
        assert_eq!(s.addr.to_string(), "01:02:03:04:05:06");
        assert_eq!(s.addr.mac(), Some(MacAddr([1, 2, 3, 4, 5, 6])));
        d.truncate(10);
        assert_eq!(
            parse_sll(&d).unwrap_err(),
            ErrorReason::Truncated {
                needed: 16,
                available: 10
            }
        );
        let d2 = [
            0x86, 0xdd, 0, 0, 0, 0, 0, 7, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        let (s, n) = parse_sll2(&d2).unwrap();
        assert_eq!((n, s.ifindex, s.protocol), (20, Some(7), EtherType::IPV6));
        assert_eq!(s.direction(), "In");
    }
}
