//! The error type of capture-file reading.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

/// Why a capture file could not be read.
///
/// Messages are written for a person who passed the wrong file, e.g.
/// `capture.pcapng: truncated at byte 1234 inside the Enhanced Packet Block that starts at
/// byte 1200 (96 bytes long)`. Displaying an error shows everything; none of the variants
/// reports a separate [`std::error::Error::source`], so a chain-printing reporter does not
/// repeat itself.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// The input starts with neither a pcap nor a pcapng magic number.
    #[error("not a pcap or pcapng file ({})", describe_head(.head))]
    NotACapture {
        /// The first (up to four) bytes of the input.
        head: Vec<u8>,
    },
    /// The input ends in the middle of a header, block or packet.
    #[error("truncated at byte {offset} inside {what}")]
    Truncated {
        /// Where the input ends (its length in bytes).
        offset: usize,
        /// What was cut short, e.g. "the Enhanced Packet Block that starts at byte 1200 (96 bytes long)".
        what: String,
    },
    /// A pcapng block whose contents contradict themselves or the file.
    #[error("malformed {} at byte {offset}: {reason}", block_name(*.block_type))]
    BadBlock {
        /// Where the block starts.
        offset: usize,
        /// The block's type number.
        block_type: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// The file could not be read.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: io::Error,
    },
    /// A format error found in a named file.
    #[error("{}: {error}", .path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The error in its contents (never another `InFile`).
        error: Box<PcapError>,
    },
}

impl PcapError {
    /// The error without the file name that [`super::read_file`] adds.
    pub fn root(&self) -> &PcapError {
        match self {
            PcapError::InFile { error, .. } => error.root(),
            other => other,
        }
    }
}

/// Human name of a pcapng block type, e.g. "Enhanced Packet Block".
pub(crate) fn block_name(block_type: u32) -> String {
    let known = match block_type {
        0x0A0D_0D0A => "Section Header Block",
        1 => "Interface Description Block",
        2 => "Packet Block",
        3 => "Simple Packet Block",
        4 => "Name Resolution Block",
        5 => "Interface Statistics Block",
        6 => "Enhanced Packet Block",
        0x0A => "Decryption Secrets Block",
        0x0BAD | 0x4000_0BAD => "Custom Block",
        _ => return format!("block of type {block_type:#010x}"),
    };
    known.to_owned()
}

/// "the X that starts at byte N (L bytes long)", for truncation messages.
pub(crate) fn block_at(block_type: u32, offset: usize, len: usize) -> String {
    format!(
        "the {} that starts at byte {offset} ({len} bytes long)",
        block_name(block_type)
    )
}

fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "it is empty".to_owned();
    }
    let mut s = String::from("it starts with bytes");
    for b in head {
        let _ = write!(s, " {b:02x}");
    }
    s
}
