//! Decode errors: which layer stopped the decoder, at what byte offset, and why.
//!
//! The decoder never fails as a whole: it keeps every layer it could decode and records
//! at most one [`DecodeError`] in [`Packet::error`](super::Packet::error).

use std::fmt;

use serde::Serialize;

/// Where and why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodeError {
    /// Name of the layer being decoded, e.g. `"IPv4"` or `"TCP"`.
    pub layer: &'static str,
    /// Byte offset of the start of that layer within the decoded buffer.
    pub offset: usize,
    /// What was wrong with it.
    pub reason: ErrorReason,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.layer, self.offset, self.reason
        )
    }
}

impl std::error::Error for DecodeError {}

/// Why a layer could not be decoded (or was only partly present).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ErrorReason {
    /// The layer needs `needed` bytes (counted from its start) but only `available` are there.
    ///
    /// For a length field that claims more bytes than were captured (an IPv4 total length or
    /// a UDP length beyond the end of a snaplen-cut capture), the inner layers are still
    /// decoded from the bytes present and this is reported afterwards, unless an inner layer
    /// reported its own error first.
    Truncated {
        /// Bytes required from the start of the layer.
        needed: usize,
        /// Bytes actually available from the start of the layer.
        available: usize,
    },
    /// The IP version nibble does not match the layer being decoded.
    BadVersion {
        /// The version nibble found.
        found: u8,
    },
    /// A header length field is below the protocol minimum (IPv4 IHL < 5, TCP data offset < 5).
    BadHeaderLength {
        /// The header length in bytes that the field encodes.
        value: usize,
    },
    /// A total length field is smaller than the header it must contain
    /// (IPv4 total length below the IHL, UDP length below 8).
    BadTotalLength {
        /// The value of the length field.
        value: usize,
        /// The smallest valid value.
        min: usize,
    },
    /// An ARP packet that is not Ethernet/IPv4 (hardware length 6, protocol length 4).
    UnsupportedArp {
        /// Hardware address length.
        hlen: u8,
        /// Protocol address length.
        plen: u8,
    },
    /// More nested encapsulations (VXLAN, IP-in-IP) than [`DecodeOptions::max_depth`](super::DecodeOptions::max_depth).
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// [`decode_linktype`](super::decode_linktype) was given a link type it does not know.
    UnsupportedLinkType {
        /// The pcap `LINKTYPE_*` value.
        linktype: u32,
    },
}

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { needed, available } => {
                write!(f, "truncated: need {needed} bytes, have {available}")
            }
            Self::BadVersion { found } => write!(f, "bad IP version {found}"),
            Self::BadHeaderLength { value } => write!(f, "bad header length {value}"),
            Self::BadTotalLength { value, min } => {
                write!(f, "bad total length {value} (minimum {min})")
            }
            Self::UnsupportedArp { hlen, plen } => {
                write!(f, "unsupported ARP address lengths hlen={hlen} plen={plen}")
            }
            Self::TooDeep { limit } => write!(f, "more than {limit} nested encapsulations"),
            Self::UnsupportedLinkType { linktype } => {
                write!(f, "unsupported link type {linktype}")
            }
        }
    }
}

/// Returns the first `N` bytes of `data` as an array, or a [`ErrorReason::Truncated`].
pub(crate) fn header<const N: usize>(data: &[u8]) -> Result<&[u8; N], ErrorReason> {
    data.first_chunk::<N>().ok_or(ErrorReason::Truncated {
        needed: N,
        available: data.len(),
    })
}

/// Returns `data[..n]`, or a [`ErrorReason::Truncated`] if `data` is shorter.
pub(crate) fn prefix(data: &[u8], n: usize) -> Result<&[u8], ErrorReason> {
    data.get(..n).ok_or(ErrorReason::Truncated {
        needed: n,
        available: data.len(),
    })
}

/// Big-endian `u16` from two bytes.
pub(crate) fn be16(hi: u8, lo: u8) -> u16 {
    u16::from_be_bytes([hi, lo])
}

/// Big-endian `u32` from four bytes.
pub(crate) fn be32(b: [u8; 4]) -> u32 {
    u32::from_be_bytes(b)
}
