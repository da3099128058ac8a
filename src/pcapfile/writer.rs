//! Writing pcapng files: one section, any number of interfaces, packets with comments.

use std::io::{self, Write};

use super::classic::invalid;
use super::pcapng::{
    BYTE_ORDER_MAGIC, EPB, EPB_FLAGS, IDB, IF_DESCRIPTION, IF_NAME, IF_TSRESOL, OPT_COMMENT, SHB,
    SHB_USERAPPL,
};
use super::{Capture, Direction, Interface};

/// `if_tsresol` of every interface written: nanoseconds.
const TSRESOL_NS: u8 = 9;

/// Writes a little-endian pcapng file of one section with nanosecond timestamps.
///
/// Each block goes to the output in one `write_all`, so wrapping a file in a
/// [`std::io::BufWriter`] is optional. Strings (names, descriptions, comments) must be
/// under 64 KiB each.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    /// Number of interfaces defined so far.
    interfaces: usize,
    /// Scratch space in which each block is assembled.
    block: Vec<u8>,
    /// Whether the block being assembled has options, which `end` must close.
    has_options: bool,
}

impl<W: Write> PcapngWriter<W> {
    /// Starts the file with a Section Header Block naming `app` (`shb_userappl`).
    pub fn new(out: W, app: &str) -> io::Result<Self> {
        let mut w = PcapngWriter {
            out,
            interfaces: 0,
            block: Vec::with_capacity(256),
            has_options: false,
        };
        w.begin(SHB);
        w.put_u32(BYTE_ORDER_MAGIC);
        w.put_u16(1);
        w.put_u16(0);
        // Section length: not specified.
        w.block.extend_from_slice(&u64::MAX.to_le_bytes());
        w.put_option(SHB_USERAPPL, app.as_bytes())?;
        w.end()?;
        Ok(w)
    }

    /// Defines a capture point (an Interface Description Block with `if_name`,
    /// `if_description` and `if_tsresol` = 9) and returns its index for [`Self::write`].
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] if the link type does not fit in 16 bits.
    pub fn add_interface(&mut self, iface: &Interface) -> io::Result<usize> {
        let linktype = u16::try_from(iface.linktype).map_err(|_| {
            invalid(format!(
                "link type {} does not fit a pcapng interface",
                iface.linktype
            ))
        })?;
        self.begin(IDB);
        self.put_u16(linktype);
        self.put_u16(0);
        self.put_u32(iface.snaplen);
        if !iface.name.is_empty() {
            self.put_option(IF_NAME, iface.name.as_bytes())?;
        }
        if let Some(desc) = &iface.description {
            self.put_option(IF_DESCRIPTION, desc.as_bytes())?;
        }
        self.put_option(IF_TSRESOL, &[TSRESOL_NS])?;
        self.end()?;
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    /// Writes one packet (an Enhanced Packet Block, with `opt_comment` if given) captured
    /// on `interface` at `ts_ns` nanoseconds since the epoch.
    ///
    /// An `orig_len` below `data.len()` is raised to it. Fails with
    /// [`io::ErrorKind::InvalidInput`] for an interface not yet added.
    pub fn write(
        &mut self,
        interface: usize,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        self.write_directed(interface, ts_ns, orig_len, data, comment, None)
    }

    /// Like [`write`](Self::write), also recording which way the packet crossed the
    /// interface (`epb_flags`), so one interface block serves both directions.
    pub fn write_directed(
        &mut self,
        interface: usize,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
        comment: Option<&str>,
        direction: Option<Direction>,
    ) -> io::Result<()> {
        if interface >= self.interfaces {
            return Err(invalid(format!(
                "interface {interface} was not added (there are {})",
                self.interfaces
            )));
        }
        let id = u32::try_from(interface).map_err(|_| invalid("too many interfaces".into()))?;
        let caplen = u32::try_from(data.len())
            .map_err(|_| invalid(format!("packet of {} bytes is too long", data.len())))?;
        self.begin(EPB);
        self.put_u32(id);
        // High then low 32 bits of the timestamp, each in the section's byte order.
        self.put_u32(u32::try_from(ts_ns >> 32).unwrap_or_default());
        self.put_u32(u32::try_from(ts_ns & 0xFFFF_FFFF).unwrap_or_default());
        self.put_u32(caplen);
        self.put_u32(orig_len.max(caplen));
        self.put_padded(data);
        if let Some(c) = comment {
            self.put_option(OPT_COMMENT, c.as_bytes())?;
        }
        if let Some(d) = direction {
            let flags: u32 = match d {
                Direction::Inbound => 1,
                Direction::Outbound => 2,
            };
            self.put_option(EPB_FLAGS, &flags.to_le_bytes())?;
        }
        self.end()
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// The number of interfaces added so far.
    pub fn interface_count(&self) -> usize {
        self.interfaces
    }

    fn begin(&mut self, block_type: u32) {
        self.block.clear();
        self.has_options = false;
        self.put_u32(block_type);
        // Total length, filled in by `end`.
        self.put_u32(0);
    }

    /// Ends the options (if any were written), fills in the length and writes the block.
    fn end(&mut self) -> io::Result<()> {
        if self.has_options {
            self.put_u32(0); // opt_endofopt: code 0, length 0.
        }
        let total = u32::try_from(self.block.len() + 4)
            .map_err(|_| invalid("block longer than 4 GiB".into()))?;
        self.put_u32(total);
        self.block[4..8].copy_from_slice(&total.to_le_bytes());
        let result = self.out.write_all(&self.block);
        if self.block.capacity() > 1 << 20 {
            self.block = Vec::with_capacity(256);
        }
        result
    }

    fn put_u16(&mut self, v: u16) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn put_u32(&mut self, v: u32) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn put_padded(&mut self, bytes: &[u8]) {
        self.block.extend_from_slice(bytes);
        let padded = self.block.len().next_multiple_of(4);
        self.block.resize(padded, 0);
    }

    /// Appends an option. Options come after a block's fixed fields, right before `end`.
    fn put_option(&mut self, code: u16, value: &[u8]) -> io::Result<()> {
        let olen = u16::try_from(value.len()).map_err(|_| {
            invalid(format!(
                "option {code} of {} bytes is longer than pcapng allows (65535)",
                value.len()
            ))
        })?;
        self.put_u16(code);
        self.put_u16(olen);
        self.put_padded(value);
        self.has_options = true;
        Ok(())
    }
}

/// Writes a whole [`Capture`] as pcapng, naming `app` as the writer; returns the output.
pub fn write_pcapng<W: Write>(out: W, capture: &Capture, app: &str) -> io::Result<W> {
    let mut w = PcapngWriter::new(out, app)?;
    for iface in &capture.interfaces {
        w.add_interface(iface)?;
    }
    for r in &capture.records {
        w.write_directed(
            r.interface,
            r.ts_ns,
            r.orig_len,
            &r.data,
            r.comment.as_deref(),
            r.direction,
        )?;
    }
    w.finish()
}
