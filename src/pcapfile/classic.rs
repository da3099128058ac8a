//! Classic libpcap files: reading both byte orders and timestamp precisions, and writing
//! little-endian nanosecond files.

use std::io::{self, BufWriter, Write};

use super::bytes::{Endian, to_usize};
use super::{Capture, Interface, PcapError, Record};

const MAGIC_US: u32 = 0xA1B2_C3D4;
const MAGIC_NS: u32 = 0xA1B2_3C4D;
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
/// The snapshot length written by [`write_pcap`]: libpcap's largest.
const WRITE_SNAPLEN: u32 = 262_144;

/// Byte order and timestamp precision of a classic pcap file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Magic {
    endian: Endian,
    nanos: bool,
}

impl Magic {
    pub(crate) fn parse(bytes: [u8; 4]) -> Option<Magic> {
        let (le, be) = (u32::from_le_bytes(bytes), u32::from_be_bytes(bytes));
        let (endian, magic) = if le == MAGIC_US || le == MAGIC_NS {
            (Endian::Little, le)
        } else if be == MAGIC_US || be == MAGIC_NS {
            (Endian::Big, be)
        } else {
            return None;
        };
        Some(Magic {
            endian,
            nanos: magic == MAGIC_NS,
        })
    }
}

/// Parses a whole classic pcap file.
pub(crate) fn read(buf: &[u8]) -> Result<Capture, PcapError> {
    let magic = buf
        .get(..4)
        .and_then(|m| Magic::parse(m.try_into().ok()?))
        .ok_or_else(|| PcapError::NotACapture {
            head: buf.iter().take(4).copied().collect(),
        })?;
    let e = magic.endian;
    let header = buf
        .get(..FILE_HEADER_LEN)
        .ok_or_else(|| PcapError::Truncated {
            offset: buf.len(),
            what: format!("the {FILE_HEADER_LEN}-byte pcap file header"),
        })?;
    let field = |at| e.u32(header, at).unwrap_or_default();
    let interface = Interface {
        name: String::new(),
        description: None,
        // The upper 16 bits may carry FCS information.
        linktype: field(20) & 0xFFFF,
        snaplen: field(16),
    };

    let mut records = Vec::new();
    let mut at = FILE_HEADER_LEN;
    while at < buf.len() {
        let number = records.len() + 1;
        let truncated = |what: String| PcapError::Truncated {
            offset: buf.len(),
            what,
        };
        let hdr = buf
            .get(at..)
            .and_then(|rest| rest.get(..RECORD_HEADER_LEN))
            .ok_or_else(|| {
                truncated(format!(
                    "the header of packet {number}, which starts at byte {at} ({RECORD_HEADER_LEN} bytes long)"
                ))
            })?;
        let field = |off| e.u32(hdr, off).unwrap_or_default();
        let (sec, frac, caplen, orig_len) = (field(0), field(4), field(8), field(12));
        let data_at = at + RECORD_HEADER_LEN;
        let data = buf
            .get(data_at..)
            .and_then(|rest| rest.get(..to_usize(caplen)))
            .ok_or_else(|| {
                truncated(format!(
                    "the data of packet {number}, which starts at byte {data_at} ({caplen} bytes long)"
                ))
            })?;
        let frac_ns = if magic.nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1_000
        };
        records.push(Record {
            interface: 0,
            // Cannot overflow: (2^32 - 1) * 10^9 + (2^32 - 1) * 1000 < 2^64.
            ts_ns: u64::from(sec) * 1_000_000_000 + frac_ns,
            orig_len,
            data: data.to_vec(),
            comment: None,
            direction: None,
        });
        at = data_at + data.len();
    }
    Ok(Capture {
        interfaces: vec![interface],
        records,
    })
}

/// Writes a classic little-endian pcap file with nanosecond timestamps (magic
/// `0xa1b23c4d`), as tcpdump and tshark read; records are `(ts_ns, orig_len, data)`.
///
/// The header's snapshot length is 262144, libpcap's largest. An `orig_len` below
/// `data.len()` is raised to it. Fails with [`io::ErrorKind::InvalidInput`] for a
/// timestamp past the year 2106 or a packet longer than 4 GiB; `out` is buffered here.
pub fn write_pcap<'a, W: Write>(
    out: W,
    linktype: u32,
    records: impl IntoIterator<Item = (u64, u32, &'a [u8])>,
) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    let mut header = [0u8; FILE_HEADER_LEN];
    header[0..4].copy_from_slice(&MAGIC_NS.to_le_bytes());
    header[4..6].copy_from_slice(&2u16.to_le_bytes());
    header[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0.
    header[16..20].copy_from_slice(&WRITE_SNAPLEN.to_le_bytes());
    header[20..24].copy_from_slice(&linktype.to_le_bytes());
    out.write_all(&header)?;
    for (ts_ns, orig_len, data) in records {
        let sec = u32::try_from(ts_ns / 1_000_000_000)
            .map_err(|_| invalid(format!("timestamp {ts_ns} ns is past the year 2106")))?;
        let nsec = u32::try_from(ts_ns % 1_000_000_000).unwrap_or_default();
        let caplen = u32::try_from(data.len())
            .map_err(|_| invalid(format!("packet of {} bytes is too long", data.len())))?;
        let mut rec = [0u8; RECORD_HEADER_LEN];
        rec[0..4].copy_from_slice(&sec.to_le_bytes());
        rec[4..8].copy_from_slice(&nsec.to_le_bytes());
        rec[8..12].copy_from_slice(&caplen.to_le_bytes());
        rec[12..16].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
        out.write_all(&rec)?;
        out.write_all(data)?;
    }
    out.flush()
}

pub(crate) fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
