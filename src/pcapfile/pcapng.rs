//! Reading pcapng files: sections in either byte order, interfaces with their timestamp
//! resolution and offset, and the three kinds of packet blocks.

use super::bytes::{Endian, to_usize};
use super::error::block_at;
use super::{Capture, Direction, Interface, PcapError, Record};

/// The first four bytes of every pcapng file (the Section Header Block type, a palindrome).
pub(crate) const SHB_MAGIC: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];

pub(crate) const SHB: u32 = 0x0A0D_0D0A;
pub(crate) const IDB: u32 = 1;
pub(crate) const PB: u32 = 2;
pub(crate) const SPB: u32 = 3;
pub(crate) const EPB: u32 = 6;
pub(crate) const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

pub(crate) const OPT_ENDOFOPT: u16 = 0;
pub(crate) const OPT_COMMENT: u16 = 1;
/// `epb_flags`: bits 0–1 give the direction (1 inbound, 2 outbound).
pub(crate) const EPB_FLAGS: u16 = 2;
pub(crate) const SHB_USERAPPL: u16 = 4;
pub(crate) const IF_NAME: u16 = 2;
pub(crate) const IF_DESCRIPTION: u16 = 3;
pub(crate) const IF_TSRESOL: u16 = 9;
pub(crate) const IF_TSOFFSET: u16 = 14;

/// Microseconds: the resolution of an interface without `if_tsresol`.
const DEFAULT_TSRESOL: u8 = 6;

/// What a packet block needs to know about its interface.
#[derive(Debug, Clone, Copy)]
struct SectionInterface {
    /// Index in [`Capture::interfaces`].
    global: usize,
    tsresol: u8,
    tsoffset: i64,
    snaplen: u32,
}

/// Parses a whole pcapng file.
pub(crate) fn read(buf: &[u8]) -> Result<Capture, PcapError> {
    if buf.get(..4) != Some(&SHB_MAGIC[..]) {
        return Err(PcapError::NotACapture {
            head: buf.iter().take(4).copied().collect(),
        });
    }
    let mut cap = Capture::default();
    let mut section: Vec<SectionInterface> = Vec::new();
    let mut endian = Endian::Little;
    let mut at = 0;
    while let Some(rest) = buf.get(at..).filter(|r| !r.is_empty()) {
        let truncated = |what: String| PcapError::Truncated {
            offset: buf.len(),
            what,
        };
        let header_truncated =
            || truncated(format!("the header of the block that starts at byte {at}"));
        if rest.get(..4) == Some(&SHB_MAGIC[..]) {
            endian = section_endian(rest, at, buf.len())?;
        }
        let block_type = endian.u32(rest, 0).ok_or_else(header_truncated)?;
        let total = endian.u32(rest, 4).ok_or_else(header_truncated)?;
        let bad = |reason: String| PcapError::BadBlock {
            offset: at,
            block_type,
            reason,
        };
        if total < 12 || total % 4 != 0 {
            return Err(bad(format!(
                "its length {total} is invalid (it must be a multiple of 4, at least 12)"
            )));
        }
        let total = to_usize(total);
        let block = rest
            .get(..total)
            .ok_or_else(|| truncated(block_at(block_type, at, total)))?;
        let trailer = endian.u32(block, total - 4).unwrap_or_default();
        if to_usize(trailer) != total {
            return Err(bad(format!(
                "the length at its end ({trailer}) differs from the length at its start ({total})"
            )));
        }
        let body = &block[8..total - 4];
        let body_at = at + 8;
        match block_type {
            SHB => {
                section_header(body, endian).map_err(bad)?;
                section.clear();
            }
            IDB => {
                let (iface, si) =
                    interface(body, body_at, endian, cap.interfaces.len()).map_err(bad)?;
                cap.interfaces.push(iface);
                section.push(si);
            }
            EPB | PB => cap
                .records
                .push(packet(block_type, body, body_at, endian, &section).map_err(bad)?),
            SPB => cap
                .records
                .push(simple_packet(body, endian, &section).map_err(bad)?),
            _ => {}
        }
        at += total;
    }
    Ok(cap)
}

/// The byte order of the section whose header starts `rest` (at file offset `at`).
fn section_endian(rest: &[u8], at: usize, file_len: usize) -> Result<Endian, PcapError> {
    let bom: [u8; 4] = rest
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| PcapError::Truncated {
            offset: file_len,
            what: format!("the header of the Section Header Block that starts at byte {at}"),
        })?;
    if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
        Ok(Endian::Little)
    } else if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
        Ok(Endian::Big)
    } else {
        Err(PcapError::BadBlock {
            offset: at,
            block_type: SHB,
            reason: format!(
                "its byte-order magic {:#010x} is neither 0x1a2b3c4d nor 0x4d3c2b1a",
                u32::from_be_bytes(bom)
            ),
        })
    }
}

fn section_header(body: &[u8], e: Endian) -> Result<(), String> {
    let (Some(major), Some(minor), true) = (e.u16(body, 4), e.u16(body, 6), body.len() >= 16)
    else {
        return Err(format!("its body has {} bytes, fewer than 16", body.len()));
    };
    if major != 1 {
        return Err(format!(
            "pcapng version {major}.{minor} is not supported (only 1.x is)"
        ));
    }
    Ok(())
}

fn interface(
    body: &[u8],
    body_at: usize,
    e: Endian,
    global: usize,
) -> Result<(Interface, SectionInterface), String> {
    let (Some(linktype), Some(snaplen)) = (e.u16(body, 0), e.u32(body, 4)) else {
        return Err(format!("its body has {} bytes, fewer than 8", body.len()));
    };
    let mut iface = Interface {
        name: String::new(),
        description: None,
        linktype: u32::from(linktype),
        snaplen,
    };
    let mut si = SectionInterface {
        global,
        tsresol: DEFAULT_TSRESOL,
        tsoffset: 0,
        snaplen,
    };
    options(body, 8, body_at, e, |code, value| {
        match code {
            IF_NAME => iface.name = text(value),
            IF_DESCRIPTION => iface.description = Some(text(value)),
            IF_TSRESOL => match value {
                [r] => si.tsresol = *r,
                _ => return Err(format!("if_tsresol has {} bytes, not 1", value.len())),
            },
            IF_TSOFFSET => {
                let v = e
                    .u64(value, 0)
                    .filter(|_| value.len() == 8)
                    .ok_or_else(|| format!("if_tsoffset has {} bytes, not 8", value.len()))?;
                si.tsoffset = i64::from_ne_bytes(v.to_ne_bytes());
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((iface, si))
}

/// An Enhanced Packet Block or an obsolete Packet Block.
fn packet(
    block_type: u32,
    body: &[u8],
    body_at: usize,
    e: Endian,
    section: &[SectionInterface],
) -> Result<Record, String> {
    let id = if block_type == EPB {
        e.u32(body, 0)
    } else {
        e.u16(body, 0).map(u32::from)
    };
    let fields = (
        id,
        e.u32(body, 4),
        e.u32(body, 8),
        e.u32(body, 12),
        e.u32(body, 16),
    );
    let (Some(id), Some(ts_hi), Some(ts_lo), Some(caplen), Some(orig_len)) = fields else {
        return Err(format!("its body has {} bytes, fewer than 20", body.len()));
    };
    let si = lookup(section, id)?;
    let room = body.len() - 20;
    let data = body
        .get(20..)
        .and_then(|d| d.get(..to_usize(caplen)))
        .ok_or_else(|| format!("its captured length {caplen} exceeds the {room} bytes it holds"))?;
    let mut comments = Vec::new();
    let mut direction = None;
    let options_at = 20 + data.len().next_multiple_of(4);
    options(body, options_at, body_at, e, |code, value| {
        if code == OPT_COMMENT {
            comments.push(text(value));
        } else if code == EPB_FLAGS {
            direction = match e.u32(value, 0).map(|f| f & 3) {
                Some(1) => Some(Direction::Inbound),
                Some(2) => Some(Direction::Outbound),
                _ => None,
            };
        }
        Ok(())
    })?;
    let units = (u64::from(ts_hi) << 32) | u64::from(ts_lo);
    Ok(Record {
        interface: si.global,
        ts_ns: to_ns(units, si.tsresol, si.tsoffset),
        orig_len,
        data: data.to_vec(),
        comment: (!comments.is_empty()).then(|| comments.join("\n")),
        direction,
    })
}

fn simple_packet(body: &[u8], e: Endian, section: &[SectionInterface]) -> Result<Record, String> {
    let orig_len = e
        .u32(body, 0)
        .ok_or_else(|| format!("its body has {} bytes, fewer than 4", body.len()))?;
    let si = section
        .first()
        .ok_or("it comes before any Interface Description Block of its section")?;
    let caplen = if si.snaplen == 0 {
        orig_len
    } else {
        orig_len.min(si.snaplen)
    };
    let room = body.len() - 4;
    let data = body
        .get(4..)
        .and_then(|d| d.get(..to_usize(caplen)))
        .ok_or_else(|| format!("its captured length {caplen} exceeds the {room} bytes it holds"))?;
    Ok(Record {
        interface: si.global,
        ts_ns: 0,
        orig_len,
        data: data.to_vec(),
        comment: None,
        direction: None,
    })
}

fn lookup(section: &[SectionInterface], id: u32) -> Result<SectionInterface, String> {
    section
        .get(to_usize(id))
        .copied()
        .ok_or_else(|| match section.len() {
            0 => format!("it names interface {id}, but its section defines no interface"),
            n => format!(
                "it names interface {id}, but its section defines only {n} (0 to {})",
                n - 1
            ),
        })
}

/// Calls `f(code, value)` for each option of `body` from `start` up to `opt_endofopt` or
/// the end of the body. `body_at` is the body's file offset, for messages.
fn options(
    body: &[u8],
    start: usize,
    body_at: usize,
    e: Endian,
    mut f: impl FnMut(u16, &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut pos = start;
    while let (Some(code), Some(olen)) = (e.u16(body, pos), e.u16(body, pos + 2)) {
        if code == OPT_ENDOFOPT {
            break;
        }
        let olen = usize::from(olen);
        let value = body
            .get(pos + 4..)
            .and_then(|v| v.get(..olen))
            .ok_or_else(|| {
                format!(
                    "option {code} at byte {} is {olen} bytes long and runs past the block's end",
                    body_at + pos
                )
            })?;
        f(code, value)?;
        pos += 4 + olen.next_multiple_of(4);
    }
    Ok(())
}

/// An option's UTF-8 text, without the NUL terminators some writers add.
fn text(value: &[u8]) -> String {
    let end = value.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    String::from_utf8_lossy(&value[..end]).into_owned()
}

/// Converts a timestamp in units of an interface's `if_tsresol` to nanoseconds since the
/// epoch, adding its `if_tsoffset` (whole seconds). Saturates at 0 and `u64::MAX`.
pub(crate) fn to_ns(units: u64, tsresol: u8, tsoffset: i64) -> u64 {
    let units = u128::from(units);
    let exp = u32::from(tsresol & 0x7F);
    let ns: u128 = if tsresol & 0x80 == 0 {
        // Units of 10^-exp seconds.
        if exp <= 9 {
            units * 10u128.pow(9 - exp)
        } else {
            10u128.checked_pow(exp - 9).map_or(0, |d| units / d)
        }
    } else {
        // Units of 2^-exp seconds; units * 10^9 < 2^94 cannot overflow.
        (units * 1_000_000_000).checked_shr(exp).unwrap_or(0)
    };
    let ns = i128::try_from(ns).unwrap_or(i128::MAX);
    let total = ns.saturating_add(i128::from(tsoffset) * 1_000_000_000);
    u64::try_from(total.max(0)).unwrap_or(u64::MAX)
}
