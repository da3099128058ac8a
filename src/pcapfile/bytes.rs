//! Bounds-checked reading of fixed-size integers in either byte order.

/// The byte order of a file or section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    /// The `N` bytes at `at`, or `None` if they are not all in `buf`.
    fn array<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
        buf.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    pub(crate) fn u16(self, buf: &[u8], at: usize) -> Option<u16> {
        let a = Self::array(buf, at)?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }

    pub(crate) fn u32(self, buf: &[u8], at: usize) -> Option<u32> {
        let a = Self::array(buf, at)?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    pub(crate) fn u64(self, buf: &[u8], at: usize) -> Option<u64> {
        let a = Self::array(buf, at)?;
        Some(match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }
}

/// A `u32` from the input as a `usize` (lossless on every platform vxlab runs on; saturates
/// elsewhere, which only makes a bounds check fail).
pub(crate) fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}
