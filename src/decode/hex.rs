//! Hex formatting of raw bytes, for display and for serializing byte slices as strings.

use std::fmt;

use serde::Serializer;

/// Displays a byte slice as contiguous lowercase hex (`"0a0b"`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Serde helper: serializes a byte slice as a hex string.
pub(crate) fn serialize_hex<S: Serializer>(data: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Hex(data))
}

#[cfg(test)]
mod tests {
    use super::Hex;

    #[test]
    fn hex() {
        assert_eq!(Hex(&[0, 0xab, 0x10]).to_string(), "00ab10");
        assert_eq!(Hex(&[]).to_string(), "");
    }
}
