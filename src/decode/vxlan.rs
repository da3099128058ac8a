//! VXLAN (RFC 7348): an 8-byte header in UDP, followed by an inner Ethernet frame.
//!
//! The decoder treats UDP datagrams whose destination port is in
//! [`DecodeOptions::vxlan_ports`](super::DecodeOptions::vxlan_ports) as VXLAN
//! (4789 is the IANA port, 8472 the Linux kernel's historical default used by flannel).

use serde::Serialize;

use super::error::{ErrorReason, be32, header};

/// A VXLAN header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Vxlan {
    /// Flags byte; `0x08` (the I flag) says the VNI is valid.
    pub flags: u8,
    /// True if the I flag is set.
    pub vni_valid: bool,
    /// VXLAN network identifier (24 bits).
    pub vni: u32,
    /// The 24 bits following the flags (reserved; Group Policy extension carries a group ID).
    pub reserved1: u32,
    /// The last byte (reserved).
    pub reserved2: u8,
}

impl Vxlan {
    /// The I flag: VNI is valid.
    pub const FLAG_VNI: u8 = 0x08;
}

/// Length of a VXLAN header.
pub const VXLAN_LEN: usize = 8;

/// The IANA-assigned VXLAN UDP port.
pub const VXLAN_PORT: u16 = 4789;

/// The port the Linux kernel used before IANA assignment (flannel's default).
pub const VXLAN_PORT_LINUX: u16 = 8472;

pub(crate) fn parse_vxlan(data: &[u8]) -> Result<(Vxlan, usize), ErrorReason> {
    let h = header::<VXLAN_LEN>(data)?;
    let vx = Vxlan {
        flags: h[0],
        vni_valid: h[0] & Vxlan::FLAG_VNI != 0,
        reserved1: be32([0, h[1], h[2], h[3]]),
        vni: be32([0, h[4], h[5], h[6]]),
        reserved2: h[7],
    };
    Ok((vx, VXLAN_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let (v, n) = parse_vxlan(&[0x08, 0, 0, 0, 0x00, 0x00, 0x64, 0]).unwrap();
        assert_eq!(n, 8);
        assert!(v.vni_valid);
        assert_eq!(v.vni, 100);
        let (v, _) = parse_vxlan(&[0x00, 0, 0, 1, 0xff, 0xff, 0xff, 7]).unwrap();
        assert!(!v.vni_valid);
        assert_eq!((v.vni, v.reserved1, v.reserved2), (0xff_ffff, 1, 7));
        assert_eq!(
            parse_vxlan(&[8, 0, 0]).unwrap_err(),
            ErrorReason::Truncated {
                needed: 8,
                available: 3
            }
        );
    }
}
