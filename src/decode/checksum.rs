//! The Internet checksum (RFC 1071) and the TCP/UDP/ICMPv6 pseudo-headers.

use std::net::{IpAddr, Ipv6Addr};

/// Running one's-complement sum; feed byte slices, then [`Checksum::finish`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Checksum {
    sum: u64,
    /// A byte left over from an odd-length slice, waiting for its low half.
    odd: Option<u8>,
}

impl Checksum {
    /// An empty sum.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `data` as big-endian 16-bit words (continuing across odd-length slices).
    pub fn add(&mut self, data: &[u8]) -> &mut Self {
        let mut rest = data;
        if let Some(hi) = self.odd.take() {
            if let Some((&lo, tail)) = rest.split_first() {
                self.sum += u64::from(u16::from_be_bytes([hi, lo]));
                rest = tail;
            } else {
                self.odd = Some(hi);
                return self;
            }
        }
        let mut words = rest.chunks_exact(2);
        for w in &mut words {
            if let [a, b] = *w {
                self.sum += u64::from(u16::from_be_bytes([a, b]));
            }
        }
        self.odd = words.remainder().first().copied();
        self
    }

    /// Adds the pseudo-header used by TCP, UDP and ICMPv6 checksums.
    pub fn add_pseudo_header(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        len: u32,
    ) -> &mut Self {
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
            self.add(&s.octets()).add(&d.octets()).add(&[0, proto]);
            // The IPv4 pseudo-header length is 16 bits; longer lengths cannot occur.
            self.add(&len.to_be_bytes()[2..]);
        } else {
            self.add(&v6(src).octets()).add(&v6(dst).octets());
            self.add(&len.to_be_bytes()).add(&[0, 0, 0, proto]);
        }
        self
    }

    /// The one's complement of the folded sum, ready to store in a header.
    pub fn finish(&self) -> u16 {
        let mut sum = self.sum;
        if let Some(hi) = self.odd {
            sum += u64::from(u16::from_be_bytes([hi, 0]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        // The loop above leaves sum <= 0xffff.
        !u16::try_from(sum).unwrap_or(u16::MAX)
    }
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The Internet checksum of `data`. A header whose checksum field is correct sums to 0.
pub fn internet_checksum(data: &[u8]) -> u16 {
    Checksum::new().add(data).finish()
}

/// Checksum of an upper-layer segment (`segment` with its checksum field zeroed or correct)
/// over the pseudo-header. A segment with a correct checksum field yields 0.
pub fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let len = u32::try_from(segment.len()).unwrap_or(u32::MAX);
    Checksum::new()
        .add_pseudo_header(src, dst, proto, len)
        .add(segment)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: sum of these words is 0xddf2, checksum !0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&d), !0xddf2);
    }

    #[test]
    fn odd_split_matches_whole() {
        let d: Vec<u8> = (0u8..=40).collect();
        let whole = internet_checksum(&d);
        let mut c = Checksum::new();
        c.add(&d[..3])
            .add(&d[3..4])
            .add(&[])
            .add(&d[4..17])
            .add(&d[17..]);
        assert_eq!(c.finish(), whole);
    }

    #[test]
    fn known_ipv4_header() {
        // Wikipedia's IPv4 header checksum example.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&h), 0);
    }
}
