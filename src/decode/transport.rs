//! Transport layers: UDP and TCP (with the common TCP options parsed).

use std::fmt;

use serde::{Serialize, Serializer};

use super::error::{ErrorReason, be16, be32, header, prefix};
use super::hex::serialize_hex;
use super::ip::TlvOptions;

/// A UDP header (8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Udp {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Length of header and payload, as claimed by the header.
    pub length: u16,
    /// Checksum field (0 = none over IPv4).
    pub checksum: u16,
}

/// Length of a UDP header.
pub const UDP_LEN: usize = 8;

pub(crate) fn parse_udp(data: &[u8]) -> Result<(Udp, usize), ErrorReason> {
    let h = header::<UDP_LEN>(data)?;
    let udp = Udp {
        src_port: be16(h[0], h[1]),
        dst_port: be16(h[2], h[3]),
        length: be16(h[4], h[5]),
        checksum: be16(h[6], h[7]),
    };
    Ok((udp, UDP_LEN))
}

/// TCP control flags (9 bits). Displays tcpdump-style (`[S.]`); [`TcpFlags::names`] gives
/// `SYN,ACK`, which is also how the flags serialize.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: Self = Self(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: Self = Self(0x002);
    /// Reset the connection.
    pub const RST: Self = Self(0x004);
    /// Push function.
    pub const PSH: Self = Self(0x008);
    /// Acknowledgment field is significant.
    pub const ACK: Self = Self(0x010);
    /// Urgent pointer field is significant.
    pub const URG: Self = Self(0x020);
    /// ECN echo.
    pub const ECE: Self = Self(0x040);
    /// Congestion window reduced.
    pub const CWR: Self = Self(0x080);
    /// ECN nonce (now "accurate ECN").
    pub const NS: Self = Self(0x100);

    /// Flags in tcpdump's order with its one-character and long names.
    const TABLE: [(Self, char, &'static str); 9] = [
        (Self::FIN, 'F', "FIN"),
        (Self::SYN, 'S', "SYN"),
        (Self::RST, 'R', "RST"),
        (Self::PSH, 'P', "PSH"),
        (Self::ACK, '.', "ACK"),
        (Self::URG, 'U', "URG"),
        (Self::ECE, 'E', "ECE"),
        (Self::CWR, 'W', "CWR"),
        (Self::NS, 'N', "NS"),
    ];

    /// True if every flag in `other` is set in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Comma-separated long names, e.g. `SYN,ACK` (empty if no flag is set).
    pub fn names(self) -> String {
        Self::TABLE
            .iter()
            .filter(|(f, _, _)| self.contains(*f))
            .map(|(_, _, n)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !Self::TABLE.iter().any(|(flag, _, _)| self.contains(*flag)) {
            return f.write_str("[none]");
        }
        f.write_str("[")?;
        for (flag, c, _) in Self::TABLE {
            if self.contains(flag) {
                write!(f, "{c}")?;
            }
        }
        f.write_str("]")
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TcpFlags({:#05x} {self})", self.0)
    }
}

impl Serialize for TcpFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.names())
    }
}

/// The TCP options decoded from a header (others are only in [`Tcp::raw_options`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2).
    pub mss: Option<u16>,
    /// Window scale shift count (kind 3).
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4).
    pub sack_permitted: bool,
    /// Timestamps value and echo reply (kind 8).
    pub timestamps: Option<(u32, u32)>,
}

impl TcpOptions {
    fn parse(raw: &[u8]) -> Self {
        let mut opts = Self::default();
        for (kind, data) in TlvOptions(raw) {
            match (kind, data) {
                (2, &[hi, lo]) => opts.mss = Some(be16(hi, lo)),
                (3, &[shift]) => opts.window_scale = Some(shift),
                (4, []) => opts.sack_permitted = true,
                (8, ts) if ts.len() == 8 => {
                    if let (Some(&val), Some(&ecr)) = (ts.first_chunk(), ts.last_chunk()) {
                        opts.timestamps = Some((be32(val), be32(ecr)));
                    }
                }
                _ => {}
            }
        }
        opts
    }
}

/// A TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tcp<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number (raw, not relative).
    pub seq: u32,
    /// Acknowledgment number (raw).
    pub ack: u32,
    /// Header length in bytes (data offset * 4, 20..=60).
    pub header_len: u8,
    /// Control flags.
    pub flags: TcpFlags,
    /// Window size (unscaled).
    pub window: u16,
    /// Checksum field.
    pub checksum: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Commonly used options, decoded.
    pub options: TcpOptions,
    /// All option bytes.
    #[serde(serialize_with = "serialize_hex")]
    pub raw_options: &'a [u8],
}

/// Minimum TCP header length.
pub const TCP_MIN_LEN: usize = 20;

pub(crate) fn parse_tcp(data: &[u8]) -> Result<(Tcp<'_>, usize), ErrorReason> {
    let h = header::<TCP_MIN_LEN>(data)?;
    let header_len = usize::from(h[12] >> 4) * 4;
    if header_len < TCP_MIN_LEN {
        return Err(ErrorReason::BadHeaderLength { value: header_len });
    }
    let full = prefix(data, header_len)?;
    let raw_options = full.get(TCP_MIN_LEN..).unwrap_or_default();
    let tcp = Tcp {
        src_port: be16(h[0], h[1]),
        dst_port: be16(h[2], h[3]),
        seq: be32([h[4], h[5], h[6], h[7]]),
        ack: be32([h[8], h[9], h[10], h[11]]),
        header_len: u8::try_from(header_len).unwrap_or(u8::MAX),
        flags: TcpFlags(be16(h[12] & 1, h[13])),
        window: be16(h[14], h[15]),
        checksum: be16(h[16], h[17]),
        urgent: be16(h[18], h[19]),
        options: TcpOptions::parse(raw_options),
        raw_options,
    };
    Ok((tcp, header_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_display() {
        let sa = TcpFlags::SYN | TcpFlags::ACK;
        assert_eq!(sa.to_string(), "[S.]");
        assert_eq!(sa.names(), "SYN,ACK");
        assert_eq!(TcpFlags(0x18).to_string(), "[P.]");
        assert_eq!(TcpFlags(0x11).to_string(), "[F.]");
        assert_eq!(TcpFlags(0).to_string(), "[none]");
        assert_eq!(TcpFlags(0xc2).to_string(), "[SEW]");
        assert_eq!(serde_json::to_string(&sa).unwrap(), "\"SYN,ACK\"");
        assert!(sa.contains(TcpFlags::SYN) && !sa.contains(TcpFlags::FIN));
    }

    #[test]
    fn udp_header() {
        let (u, n) = parse_udp(&[0xc8, 0x22, 0x12, 0xb5, 0, 58, 0xab, 0xcd, 9]).unwrap();
        assert_eq!(n, 8);
        assert_eq!(
            (u.src_port, u.dst_port, u.length, u.checksum),
            (51234, 4789, 58, 0xabcd)
        );
        assert!(parse_udp(&[0; 7]).is_err());
    }

    /// A SYN from a Linux host: mss 1460, sackOK, TS val 1 ecr 0, nop, wscale 7.
    const SYN: [u8; 40] = [
        0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x12, 0x34, 0x00, 0x00, // fixed header
        0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    #[test]
    fn tcp_syn_with_options() {
        let (t, n) = parse_tcp(&SYN).unwrap();
        assert_eq!(n, 40);
        assert_eq!((t.src_port, t.dst_port, t.seq, t.ack), (40000, 80, 1000, 0));
        assert_eq!(t.flags, TcpFlags::SYN);
        assert_eq!(t.window, 64240);
        assert_eq!(t.checksum, 0x1234);
        assert_eq!(t.options.mss, Some(1460));
        assert_eq!(t.options.window_scale, Some(7));
        assert!(t.options.sack_permitted);
        assert_eq!(t.options.timestamps, Some((1, 0)));
        assert_eq!(t.raw_options.len(), 20);
    }

    #[test]
    fn tcp_errors() {
        assert_eq!(
            parse_tcp(&SYN[..30]).unwrap_err(),
            ErrorReason::Truncated {
                needed: 40,
                available: 30
            }
        );
        let mut bad = SYN;
        bad[12] = 0x40;
        assert_eq!(
            parse_tcp(&bad).unwrap_err(),
            ErrorReason::BadHeaderLength { value: 16 }
        );
    }
}
