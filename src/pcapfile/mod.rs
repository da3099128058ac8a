//! Pure reading and writing of capture files: classic pcap and pcapng, without libpcap.
//!
//! vxlab sees the same packet at many capture points (namespace × interface × direction).
//! [`PcapngWriter`] writes them all into one pcapng file, with one Interface Description
//! Block per capture point and an optional comment per packet; [`read`] and [`read_file`]
//! load a whole pcap or pcapng file into a [`Capture`] that keeps, for every packet, the
//! [`Interface`] it was captured on — which libpcap's reader does not.
//!
//! ```
//! use vxlab::pcapfile::{self, Interface, PcapngWriter};
//!
//! let mut w = PcapngWriter::new(Vec::new(), "vxlab")?;
//! let veth = w.add_interface(&Interface::ethernet("ns1/veth0", Some("host ns1, outbound")))?;
//! w.write(veth, 1_700_000_000_123_456_789, 60, &[0u8; 60], Some("hop 1"))?;
//! let bytes = w.finish()?;
//!
//! let cap = pcapfile::read(&bytes)?;
//! assert_eq!(cap.interfaces[0].name, "ns1/veth0");
//! assert_eq!(cap.records[0].ts_ns, 1_700_000_000_123_456_789);
//! assert_eq!(cap.records[0].comment.as_deref(), Some("hop 1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Reading understands classic pcap in both byte orders with microsecond or nanosecond
//! timestamps, and pcapng in both byte orders with any number of sections, Enhanced,
//! Simple and (obsolete) Packet Blocks, and the `if_tsresol` and `if_tsoffset` interface
//! options; other blocks are skipped. Malformed input gives a [`PcapError`] that says
//! where and why, never a panic, and memory use is bounded by the input's size.

// Block and option names such as pcapng, if_tsresol and opt_comment are not code identifiers.
#![allow(clippy::doc_markdown)]

mod bytes;
mod classic;
mod error;
mod pcapng;
mod writer;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use classic::write_pcap;
pub use error::PcapError;
pub use writer::{PcapngWriter, write_pcapng};

/// Link-layer type numbers (the `LINKTYPE_*` values of tcpdump.org) that vxlab meets.
pub mod linktype {
    /// BSD loopback encapsulation.
    pub const NULL: u32 = 0;
    /// Ethernet.
    pub const ETHERNET: u32 = 1;
    /// Raw IPv4 or IPv6, no link-layer header.
    pub const RAW: u32 = 101;
    /// Linux cooked capture (the `any` pseudo-interface), version 1.
    pub const LINUX_SLL: u32 = 113;
    /// Linux cooked capture, version 2.
    pub const LINUX_SLL2: u32 = 276;
}

/// A capture point: one interface of a pcapng file, or the single one of a classic pcap file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// The interface's name (pcapng `if_name`); empty when the file does not say, as in
    /// every classic pcap file.
    pub name: String,
    /// A free-text description (pcapng `if_description`).
    pub description: Option<String>,
    /// The link-layer type of its packets (see [`linktype`]).
    pub linktype: u32,
    /// The most bytes captured of one packet; 0 means no limit.
    pub snaplen: u32,
}

impl Interface {
    /// An Ethernet interface with no snapshot limit.
    pub fn ethernet(name: &str, description: Option<&str>) -> Self {
        Interface {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            linktype: linktype::ETHERNET,
            snaplen: 0,
        }
    }
}

/// One captured packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Index into [`Capture::interfaces`] of the interface it was captured on. In a pcapng
    /// file with several sections, the interfaces of all sections are numbered in order.
    pub interface: usize,
    /// Time of capture in nanoseconds since the Unix epoch (0 for a Simple Packet Block,
    /// which has no timestamp).
    pub ts_ns: u64,
    /// The packet's length on the wire, which may exceed `data.len()` if it was cut short.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// The packet's comment (pcapng `opt_comment`); several comments are joined by newlines.
    pub comment: Option<String>,
    /// Whether the interface received or sent it (pcapng `epb_flags`), when the file says.
    pub direction: Option<Direction>,
}

/// Which way a packet crossed its interface (pcapng `epb_flags` bits 0–1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received.
    Inbound,
    /// Sent.
    Outbound,
}

/// A whole capture file, in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capture {
    /// The capture points, in the order the file defines them.
    pub interfaces: Vec<Interface>,
    /// The packets, in file order.
    pub records: Vec<Record>,
}

impl Capture {
    /// The interface a record was captured on.
    ///
    /// Records returned by [`read`] always name an existing interface; this returns `None`
    /// only for records built by hand with an index out of range.
    pub fn interface_of(&self, record: &Record) -> Option<&Interface> {
        self.interfaces.get(record.interface)
    }
}

/// Which format a capture file is in, judged by its first four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    Pcapng,
}

/// Tells the format of a capture from its first bytes, or `None` if it is neither.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let magic: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    if magic == pcapng::SHB_MAGIC {
        Some(Format::Pcapng)
    } else if classic::Magic::parse(magic).is_some() {
        Some(Format::Pcap)
    } else {
        None
    }
}

/// Parses a whole pcap or pcapng file, telling the format from its magic number.
pub fn read(bytes: &[u8]) -> Result<Capture, PcapError> {
    match detect(bytes) {
        Some(Format::Pcap) => classic::read(bytes),
        Some(Format::Pcapng) => pcapng::read(bytes),
        None => Err(PcapError::NotACapture {
            head: bytes.iter().take(4).copied().collect(),
        }),
    }
}

/// Reads and parses a pcap or pcapng file; errors name the file.
pub fn read_file(path: &Path) -> Result<Capture, PcapError> {
    let bytes = std::fs::read(path).map_err(|error| PcapError::Io {
        path: path.to_owned(),
        error,
    })?;
    read(&bytes).map_err(|e| PcapError::InFile {
        path: path.to_owned(),
        error: Box::new(e),
    })
}
