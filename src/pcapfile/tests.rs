//! Unit tests on hand-built files: both byte orders, every block kind, timestamp
//! resolutions and offsets, and the exact wording of errors.

use std::path::Path;

use super::bytes::Endian;
use super::pcapng::to_ns;
use super::*;

/// Serialises integers in a chosen byte order.
#[derive(Clone, Copy)]
struct B(Endian);

impl B {
    fn u16(self, v: u16) -> [u8; 2] {
        match self.0 {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    fn u32(self, v: u32) -> [u8; 4] {
        match self.0 {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    fn u64(self, v: u64) -> [u8; 8] {
        match self.0 {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    /// A whole block: body padded to 4 bytes, lengths at both ends.
    fn block(self, ty: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().next_multiple_of(4);
        let total = u32::try_from(12 + padded).unwrap();
        let mut v = Vec::new();
        v.extend(self.u32(ty));
        v.extend(self.u32(total));
        v.extend(body);
        v.resize(8 + padded, 0);
        v.extend(self.u32(total));
        v
    }
    fn opt(self, code: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(self.u16(code));
        v.extend(self.u16(u16::try_from(value.len()).unwrap()));
        v.extend(value);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }
    fn shb(self) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(self.u32(0x1A2B_3C4D));
        body.extend(self.u16(1));
        body.extend(self.u16(0));
        body.extend(self.u64(u64::MAX));
        self.block(0x0A0D_0D0A, &body)
    }
    fn idb(self, linktype: u16, snaplen: u32, opts: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(self.u16(linktype));
        body.extend(self.u16(0));
        body.extend(self.u32(snaplen));
        for o in opts {
            body.extend(o);
        }
        if !opts.is_empty() {
            body.extend([0; 4]);
        }
        self.block(1, &body)
    }
    fn epb(self, iface: u32, ts: u64, orig: u32, data: &[u8], opts: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(self.u32(iface));
        body.extend(self.u32(u32::try_from(ts >> 32).unwrap()));
        body.extend(self.u32(u32::try_from(ts & 0xFFFF_FFFF).unwrap()));
        body.extend(self.u32(u32::try_from(data.len()).unwrap()));
        body.extend(self.u32(orig));
        body.extend(data);
        body.resize(body.len().next_multiple_of(4), 0);
        for o in opts {
            body.extend(o);
        }
        self.block(6, &body)
    }
}

const LE: B = B(Endian::Little);
const BE: B = B(Endian::Big);

fn err(bytes: &[u8]) -> String {
    read(bytes).unwrap_err().to_string()
}

#[test]
fn writer_round_trip_and_layout() {
    let mut w = PcapngWriter::new(Vec::new(), "vxlab test").unwrap();
    let a = w
        .add_interface(&Interface::ethernet("ns1/eth0", Some("a")))
        .unwrap();
    let b = w
        .add_interface(&Interface {
            name: String::new(),
            description: None,
            linktype: linktype::LINUX_SLL2,
            snaplen: 96,
        })
        .unwrap();
    assert_eq!((a, b, w.interface_count()), (0, 1, 2));
    w.write(b, 5, 3, b"abc", None).unwrap();
    w.write(a, u64::MAX, 0, b"wxyz1", Some("hop 2: ns1/eth0 out"))
        .unwrap();
    let bytes = w.finish().unwrap();
    assert_eq!(bytes.len() % 4, 0);
    assert_eq!(detect(&bytes), Some(Format::Pcapng));
    let cap = read(&bytes).unwrap();
    assert_eq!(cap.interfaces.len(), 2);
    assert_eq!(
        cap.interfaces[0],
        Interface::ethernet("ns1/eth0", Some("a"))
    );
    assert_eq!(cap.interfaces[1].linktype, 276);
    assert_eq!(cap.interfaces[1].snaplen, 96);
    assert_eq!(cap.interfaces[1].name, "");
    let r = &cap.records;
    assert_eq!((r[0].interface, r[0].ts_ns, r[0].orig_len), (1, 5, 3));
    assert_eq!(
        (r[0].data.as_slice(), r[0].comment.as_deref()),
        (&b"abc"[..], None)
    );
    // orig_len below the captured length is raised to it.
    assert_eq!(
        (r[1].interface, r[1].ts_ns, r[1].orig_len),
        (0, u64::MAX, 5)
    );
    assert_eq!(r[1].comment.as_deref(), Some("hop 2: ns1/eth0 out"));
    assert_eq!(cap.interface_of(&r[1]).unwrap().name, "ns1/eth0");
    // Rewriting the capture gives the same bytes.
    assert_eq!(write_pcapng(Vec::new(), &cap, "vxlab test").unwrap(), bytes);
}

#[test]
fn writer_rejects_bad_input() {
    let mut w = PcapngWriter::new(Vec::new(), "t").unwrap();
    let e = w.write(0, 0, 0, b"", None).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(e.to_string(), "interface 0 was not added (there are 0)");
    let mut big = Interface::ethernet("x", None);
    big.linktype = 0x1_0000;
    assert!(w.add_interface(&big).is_err());
    w.add_interface(&Interface::ethernet("x", None)).unwrap();
    let long = "c".repeat(70_000);
    let e = w.write(0, 0, 0, b"", Some(&long)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    // A failed block leaves nothing behind: the file still reads.
    w.write(0, 1, 1, b"z", Some("")).unwrap();
    let cap = read(&w.finish().unwrap()).unwrap();
    assert_eq!(cap.records.len(), 1);
    assert_eq!(cap.records[0].comment.as_deref(), Some(""));
}

/// Two sections of opposite byte orders, timestamp resolutions and offsets, all three
/// packet block kinds, unknown blocks, NUL-terminated and repeated string options.
fn two_sections() -> Vec<u8> {
    let mut f = BE.shb();
    f.extend(BE.idb(
        1,
        0,
        &[
            BE.opt(2, b"veth0\0"),
            BE.opt(3, b"desc"),
            BE.opt(9, &[0x83]),         // 1/8 s
            BE.opt(14, &BE.u64(100)),   // +100 s
            BE.opt(0x8001, b"unknown"), // ignored
        ],
    ));
    f.extend(BE.idb(113, 4, &[BE.opt(9, &[3])])); // ms, snaplen 4
    f.extend(BE.epb(
        0,
        8 * 5 + 4,
        60,
        b"hello",
        &[BE.opt(1, b"one"), BE.opt(1, b"two")],
    ));
    f.extend(BE.block(5, &[0; 16])); // Interface Statistics Block: skipped
    f.extend(BE.block(0x1234_5678, &[1, 2, 3])); // unknown: skipped
    // Obsolete Packet Block on interface 1: id u16, drops u16, ts, caplen, len, data.
    let mut pb = Vec::new();
    pb.extend(BE.u16(1));
    pb.extend(BE.u16(0));
    pb.extend(BE.u32(0));
    pb.extend(BE.u32(1500));
    pb.extend(BE.u32(2));
    pb.extend(BE.u32(9));
    pb.extend(b"pb");
    pb.extend([0, 0]);
    pb.extend(BE.opt(1, b"old"));
    f.extend(BE.block(2, &pb));
    // Simple Packet Block: interface 0, whose snaplen is unlimited.
    let mut spb = Vec::new();
    spb.extend(BE.u32(3));
    spb.extend(b"spb");
    f.extend(BE.block(3, &spb));

    f.extend(LE.shb());
    f.extend(LE.idb(
        1,
        2,
        &[
            LE.opt(2, b"second"),
            LE.opt(14, &LE.u64(u64::from_ne_bytes((-5i64).to_ne_bytes()))),
        ],
    ));
    f.extend(LE.epb(0, 6_000_000, 10, b"xy", &[]));
    let mut spb = Vec::new();
    spb.extend(LE.u32(10)); // snaplen 2 caps the captured bytes
    spb.extend(b"ab");
    f.extend(LE.block(3, &spb));
    f
}

#[test]
fn reads_sections_in_both_byte_orders() {
    let cap = read(&two_sections()).unwrap();
    let names: Vec<_> = cap.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["veth0", "", "second"]);
    assert_eq!(cap.interfaces[0].description.as_deref(), Some("desc"));
    assert_eq!(cap.interfaces[1].linktype, 113);
    assert_eq!(cap.interfaces[1].snaplen, 4);
    let summary: Vec<_> = cap
        .records
        .iter()
        .map(|r| {
            (
                r.interface,
                r.ts_ns,
                r.orig_len,
                r.data.as_slice(),
                r.comment.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, 105_500_000_000, 60, &b"hello"[..], Some("one\ntwo")),
            (1, 1_500_000_000, 9, &b"pb"[..], Some("old")),
            (0, 0, 3, &b"spb"[..], None),
            (2, 1_000_000_000, 10, &b"xy"[..], None),
            (2, 0, 10, &b"ab"[..], None),
        ]
    );
}

#[test]
fn timestamp_resolutions() {
    assert_eq!(to_ns(7, 6, 0), 7_000);
    assert_eq!(to_ns(7, 9, 0), 7);
    assert_eq!(to_ns(7, 0, 0), 7_000_000_000);
    assert_eq!(to_ns(7_000, 12, 0), 7);
    assert_eq!(to_ns(u64::MAX, 127, 0), 0);
    assert_eq!(to_ns(u64::MAX, 0, 0), u64::MAX);
    assert_eq!(to_ns(1024, 0x80 | 0x0A, 0), 1_000_000_000);
    assert_eq!(to_ns(1, 0x80 | 1, 0), 500_000_000);
    assert_eq!(to_ns(u64::MAX, 0xFF, 0), 0);
    assert_eq!(to_ns(u64::MAX, 0x80, 0), u64::MAX);
    assert_eq!(to_ns(1, 0, -2), 0);
    assert_eq!(to_ns(1, 0, 2), 3_000_000_000);
    assert_eq!(to_ns(u64::MAX, 9, i64::MAX), u64::MAX);
    assert_eq!(to_ns(0, 9, i64::MIN), 0);
}

/// A classic pcap file; `magic` decides byte order and precision.
fn classic(b: B, magic: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(b.u32(magic));
    f.extend(b.u16(2));
    f.extend(b.u16(4));
    f.extend([0; 8]);
    f.extend(b.u32(65535));
    f.extend(b.u32(0x1000_0001)); // Ethernet, with FCS bits set
    for &(sec, frac, data, orig) in records {
        f.extend(b.u32(sec));
        f.extend(b.u32(frac));
        f.extend(b.u32(u32::try_from(data.len()).unwrap()));
        f.extend(b.u32(orig));
        f.extend(data);
    }
    f
}

#[test]
fn reads_classic_pcap_in_all_four_flavours() {
    for b in [LE, BE] {
        for (magic, ns) in [(0xA1B2_C3D4, 2_000_003_000), (0xA1B2_3C4D, 2_000_000_003)] {
            let f = classic(b, magic, &[(2, 3, b"abc", 70), (0, 0, b"", 0)]);
            assert_eq!(detect(&f), Some(Format::Pcap));
            let cap = read(&f).unwrap();
            assert_eq!(
                cap.interfaces,
                [Interface {
                    name: String::new(),
                    description: None,
                    linktype: 1,
                    snaplen: 65535
                }]
            );
            assert_eq!(cap.records.len(), 2);
            assert_eq!(cap.records[0].ts_ns, ns);
            assert_eq!(cap.records[0].orig_len, 70);
            assert_eq!(cap.records[0].data, b"abc");
            assert!(cap.records[1].data.is_empty());
        }
    }
}

#[test]
fn write_pcap_round_trip() {
    let recs: [(u64, u32, &[u8]); 2] = [(1_700_000_000_123_456_789, 99, b"frame"), (0, 0, b"xy")];
    let mut out = Vec::new();
    write_pcap(&mut out, linktype::RAW, recs).unwrap();
    assert_eq!(&out[..4], &[0x4D, 0x3C, 0xB2, 0xA1]);
    let cap = read(&out).unwrap();
    assert_eq!(cap.interfaces[0].linktype, 101);
    assert_eq!(cap.interfaces[0].snaplen, 262_144);
    let got: Vec<_> = cap
        .records
        .iter()
        .map(|r| (r.ts_ns, r.orig_len, r.data.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            (1_700_000_000_123_456_789, 99, &b"frame"[..]),
            (0, 2, &b"xy"[..])
        ]
    );
    let e = write_pcap(Vec::new(), 1, [(u64::MAX, 0, &b""[..])]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn error_messages_classic() {
    assert_eq!(err(b""), "not a pcap or pcapng file (it is empty)");
    assert_eq!(
        err(b"\x7fELF\x02\x01"),
        "not a pcap or pcapng file (it starts with bytes 7f 45 4c 46)"
    );
    assert_eq!(
        err(b"GI"),
        "not a pcap or pcapng file (it starts with bytes 47 49)"
    );

    let f = classic(LE, 0xA1B2_C3D4, &[(1, 1, b"abcdef", 6)]);
    assert_eq!(
        err(&f[..20]),
        "truncated at byte 20 inside the 24-byte pcap file header"
    );
    assert_eq!(
        err(&f[..30]),
        "truncated at byte 30 inside the header of packet 1, which starts at byte 24 (16 bytes long)"
    );
    assert_eq!(
        err(&f[..43]),
        "truncated at byte 43 inside the data of packet 1, which starts at byte 40 (6 bytes long)"
    );
}

#[test]
fn error_messages_pcapng() {
    let mut w = PcapngWriter::new(Vec::new(), "t").unwrap();
    w.add_interface(&Interface::ethernet("a", None)).unwrap();
    w.write(0, 0, 0, b"", None).unwrap();
    w.write(0, 0, 100, &[0; 100], None).unwrap();
    let f = w.finish().unwrap();
    let epb2 = f.len() - 132;
    assert_eq!(
        err(&f[..f.len() - 1]),
        format!(
            "truncated at byte {} inside the Enhanced Packet Block that starts at byte {epb2} (132 bytes long)",
            f.len() - 1
        )
    );
    assert_eq!(
        err(&f[..epb2 + 6]),
        format!(
            "truncated at byte {} inside the header of the block that starts at byte {epb2}",
            epb2 + 6
        )
    );

    let mut f = LE.shb();
    f.extend(LE.epb(0, 0, 0, b"", &[]));
    assert_eq!(
        err(&f),
        "malformed Enhanced Packet Block at byte 28: it names interface 0, but its section defines no interface"
    );
    let mut f = LE.shb();
    f.extend(LE.idb(1, 0, &[]));
    f.extend(LE.epb(3, 0, 0, b"", &[]));
    assert_eq!(
        err(&f),
        "malformed Enhanced Packet Block at byte 48: it names interface 3, but its section defines only 1 (0 to 0)"
    );

    let mut f = LE.shb();
    let n = f.len();
    f[n - 4] = 0;
    assert_eq!(
        err(&f),
        "malformed Section Header Block at byte 0: the length at its end (0) differs from the length at its start (28)"
    );
    let mut f = LE.shb();
    f[8] = 0;
    assert_eq!(
        err(&f),
        "malformed Section Header Block at byte 0: its byte-order magic 0x003c2b1a is neither 0x1a2b3c4d nor 0x4d3c2b1a"
    );
    let mut f = LE.shb();
    f[12] = 2;
    assert_eq!(
        err(&f),
        "malformed Section Header Block at byte 0: pcapng version 2.0 is not supported (only 1.x is)"
    );
    let mut f = LE.shb();
    f.extend(LE.block(7, &[]));
    f[32] = 13;
    assert_eq!(
        err(&f),
        "malformed block of type 0x00000007 at byte 28: its length 13 is invalid (it must be a multiple of 4, at least 12)"
    );
    let mut f = LE.shb();
    let mut body = LE.u32(0).to_vec();
    body.extend([0; 4]);
    body.extend(LE.opt(2, b"abcdefgh"));
    body.truncate(body.len() - 4);
    f.extend(LE.block(1, &body));
    assert_eq!(
        err(&f),
        "malformed Interface Description Block at byte 28: option 2 at byte 44 is 8 bytes long and runs past the block's end"
    );
    let mut f = LE.shb();
    f.extend(LE.idb(1, 0, &[LE.opt(9, &[6, 6])]));
    assert_eq!(
        err(&f),
        "malformed Interface Description Block at byte 28: if_tsresol has 2 bytes, not 1"
    );
    let mut f = LE.shb();
    f.extend(LE.idb(1, 0, &[]));
    let mut epb = LE.epb(0, 0, 0, b"abcd", &[]);
    epb[20..24].copy_from_slice(&LE.u32(9)); // caplen 9, but 4 bytes of data
    f.extend(epb);
    assert_eq!(
        err(&f),
        "malformed Enhanced Packet Block at byte 48: its captured length 9 exceeds the 4 bytes it holds"
    );
    let mut f = LE.shb();
    f.extend(LE.block(3, &LE.u32(0)));
    assert_eq!(
        err(&f),
        "malformed Simple Packet Block at byte 28: it comes before any Interface Description Block of its section"
    );
}

#[test]
fn read_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.pcapng");
    let mut w = PcapngWriter::new(Vec::new(), "t").unwrap();
    w.add_interface(&Interface::ethernet("a", None)).unwrap();
    w.write(0, 0, 0, &[1; 40], None).unwrap();
    let f = w.finish().unwrap();
    std::fs::write(&path, &f[..f.len() - 10]).unwrap();
    let e = read_file(&path).unwrap_err();
    assert!(matches!(e.root(), PcapError::Truncated { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "{}: truncated at byte {} inside the Enhanced Packet Block that starts at byte {} (72 bytes long)",
            path.display(),
            f.len() - 10,
            f.len() - 72
        )
    );
    std::fs::write(&path, &f).unwrap();
    assert_eq!(read_file(&path).unwrap().records.len(), 1);

    let missing = Path::new("/nonexistent/x.pcap");
    let e = read_file(missing).unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/x.pcap: "), "{e}");
    assert!(std::error::Error::source(&e).is_none());
}
