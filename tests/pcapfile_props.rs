//! Property tests: reading never panics on random bytes or on mutated, truncated or
//! spliced valid files, what it returns is consistent with its input, and writing then
//! reading any capture gives it back.

use std::sync::LazyLock;

use proptest::prelude::*;
use vxlab::pcapfile::{
    Capture, Interface, PcapngWriter, Record, linktype, read, write_pcap, write_pcapng,
};

const CASES: u32 = 4_000;

/// Valid files of every flavour, built once.
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(build_corpus);
    &CORPUS
}

fn build_corpus() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    let mut w = PcapngWriter::new(Vec::new(), "vxlab props").unwrap();
    w.add_interface(&Interface::ethernet("ns1/veth0", Some("first")))
        .unwrap();
    w.add_interface(&Interface {
        name: "ns2/any".into(),
        description: None,
        linktype: linktype::LINUX_SLL2,
        snaplen: 16,
    })
    .unwrap();
    w.write(0, 1, 70, &[1; 33], Some("hop 1")).unwrap();
    w.write(1, 2, 16, &[2; 16], None).unwrap();
    w.write(0, 3, 3, b"abc", Some("hop 3")).unwrap();
    let ng = w.finish().unwrap();
    // A second section appended, and a big-endian copy of the same blocks.
    let mut two = ng.clone();
    two.extend_from_slice(&ng);
    files.push(big_endian(&ng));
    files.push(ng);
    files.push(two);

    let mut pcap = Vec::new();
    let recs: [(u64, u32, &[u8]); 3] = [(5, 60, &[7; 20]), (6, 0, b""), (7, 3, b"xyz")];
    write_pcap(&mut pcap, linktype::ETHERNET, recs).unwrap();
    // The same file with a microsecond magic, and byte-swapped.
    let mut us = pcap.clone();
    us[..4].copy_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    files.push(swap_classic(&pcap));
    files.push(pcap);
    files.push(us);
    files
}

/// Swaps the byte order of a little-endian pcapng written by `PcapngWriter`, block by
/// block and field by field (the fixed fields of SHB, IDB and EPB, and option headers).
fn big_endian(le: &[u8]) -> Vec<u8> {
    let mut out = le.to_vec();
    let mut at = 0;
    while at + 12 <= le.len() {
        let ty = u32::from_le_bytes(le[at..at + 4].try_into().unwrap());
        let total = u32::from_le_bytes(le[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = at + 8;
        let swap = |out: &mut Vec<u8>, pos: usize, n: usize| out[pos..pos + n].reverse();
        swap(&mut out, at, 4);
        swap(&mut out, at + 4, 4);
        swap(&mut out, at + total - 4, 4);
        let opts = match ty {
            0x0A0D_0D0A => {
                swap(&mut out, body, 4);
                swap(&mut out, body + 4, 2);
                swap(&mut out, body + 6, 2);
                swap(&mut out, body + 8, 8);
                body + 16
            }
            1 => {
                swap(&mut out, body, 2);
                swap(&mut out, body + 4, 4);
                body + 8
            }
            6 => {
                for i in 0..5 {
                    swap(&mut out, body + 4 * i, 4);
                }
                let caplen = u32::from_le_bytes(le[body + 12..body + 16].try_into().unwrap());
                body + 20 + (caplen as usize).next_multiple_of(4)
            }
            _ => unreachable!(),
        };
        let mut pos = opts;
        while pos + 4 <= at + total - 4 {
            let len = u16::from_le_bytes([le[pos + 2], le[pos + 3]]) as usize;
            swap(&mut out, pos, 2);
            swap(&mut out, pos + 2, 2);
            pos += 4 + len.next_multiple_of(4);
        }
        at += total;
    }
    out
}

fn swap_classic(le: &[u8]) -> Vec<u8> {
    let mut out = le.to_vec();
    out[0..4].reverse();
    out[4..6].reverse();
    out[6..8].reverse();
    for f in (8..24).step_by(4) {
        out[f..f + 4].reverse();
    }
    let mut at = 24;
    while at + 16 <= le.len() {
        let caplen = u32::from_le_bytes(le[at + 8..at + 12].try_into().unwrap()) as usize;
        for f in (at..at + 16).step_by(4) {
            out[f..f + 4].reverse();
        }
        at += 16 + caplen;
    }
    out
}

/// Checks what a successful read returned against the input.
fn consistent(input: &[u8], cap: &Capture) {
    let total: usize = cap.records.iter().map(|r| r.data.len()).sum();
    assert!(total <= input.len());
    for r in &cap.records {
        assert!(r.interface < cap.interfaces.len());
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Overwrite one byte.
    Byte(usize, u8),
    /// Overwrite an aligned 32-bit word (where lengths live) with an interesting value.
    Word(usize, u32),
    /// Cut the file.
    Truncate(usize),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Remove a range.
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let word = prop_oneof![
        Just(0u32),
        Just(4),
        Just(12),
        Just(16),
        Just(0x8000_0000),
        Just(u32::MAX),
        Just(0x1A2B_3C4D),
        Just(0x0A0D_0D0A),
        0u32..300,
        any::<u32>(),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (any::<usize>(), word).prop_map(|(i, w)| Mutation::Word(i, w)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..32).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(file: &mut Vec<u8>, m: &Mutation) {
    let n = file.len().max(1);
    match m {
        Mutation::Byte(i, b) => {
            if let Some(x) = file.get_mut(i % n) {
                *x = *b;
            }
        }
        Mutation::Word(i, w) => {
            let at = (i % n) & !3;
            if at + 4 <= file.len() {
                let bytes = if i % 2 == 0 {
                    w.to_le_bytes()
                } else {
                    w.to_be_bytes()
                };
                file[at..at + 4].copy_from_slice(&bytes);
            }
        }
        Mutation::Truncate(i) => file.truncate(i % n),
        Mutation::Insert(i, v) => {
            let at = i % (file.len() + 1);
            file.splice(at..at, v.iter().copied());
        }
        Mutation::Remove(i, len) => {
            let at = i % n;
            let end = (at + len).min(file.len());
            if at < end {
                file.drain(at..end);
            }
        }
    }
}

fn interface() -> impl Strategy<Value = Interface> {
    (
        "[a-z0-9/._-]{0,20}",
        prop::option::of("\\PC{0,30}"),
        0u32..=0xFFFF,
        any::<u32>(),
    )
        .prop_map(|(name, description, linktype, snaplen)| Interface {
            name,
            description,
            linktype,
            snaplen,
        })
}

fn capture() -> impl Strategy<Value = Capture> {
    prop::collection::vec(interface(), 1..4).prop_flat_map(|interfaces| {
        let n = interfaces.len();
        let record = (
            0..n,
            any::<u64>(),
            any::<u32>(),
            prop::collection::vec(any::<u8>(), 0..80),
            prop::option::of("\\PC{0,40}"),
        )
            .prop_map(|(interface, ts_ns, orig_len, data, comment)| Record {
                interface,
                ts_ns,
                orig_len: orig_len.max(u32::try_from(data.len()).unwrap()),
                data,
                comment,
                direction: None,
            });
        prop::collection::vec(record, 0..12).prop_map(move |records| Capture {
            interfaces: interfaces.clone(),
            records,
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(cap) = read(&bytes) {
            consistent(&bytes, &cap);
        }
    }

    #[test]
    fn random_bytes_after_a_magic_never_panic(
        magic in prop::sample::select(vec![
            [0x0A, 0x0D, 0x0D, 0x0A], [0xD4, 0xC3, 0xB2, 0xA1], [0xA1, 0xB2, 0xC3, 0xD4],
            [0x4D, 0x3C, 0xB2, 0xA1], [0xA1, 0xB2, 0x3C, 0x4D],
        ]),
        bom in prop::sample::select(vec![[0x4D, 0x3C, 0x2B, 0x1A], [0x1A, 0x2B, 0x3C, 0x4D]]),
        rest in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&rest);
        if bytes.len() >= 12 && magic[0] == 0x0A {
            bytes[8..12].copy_from_slice(&bom);
        }
        if let Ok(cap) = read(&bytes) {
            consistent(&bytes, &cap);
        }
    }

    #[test]
    fn mutated_files_never_panic(
        which in 0usize..16,
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut file = corpus()[which % corpus().len()].clone();
        for m in &mutations {
            apply(&mut file, m);
        }
        if let Ok(cap) = read(&file) {
            consistent(&file, &cap);
        }
    }

    #[test]
    fn pcapng_round_trip(cap in capture()) {
        let bytes = write_pcapng(Vec::new(), &cap, "props").unwrap();
        prop_assert_eq!(read(&bytes).unwrap(), cap);
    }

    #[test]
    fn classic_round_trip(
        lt in 0u32..=0xFFFF,
        recs in prop::collection::vec(
            (0u64..(1 << 32) * 1_000_000_000, any::<u32>(), prop::collection::vec(any::<u8>(), 0..80)),
            0..12,
        ),
    ) {
        let mut bytes = Vec::new();
        write_pcap(&mut bytes, lt, recs.iter().map(|(t, l, d)| (*t, *l, d.as_slice()))).unwrap();
        let cap = read(&bytes).unwrap();
        prop_assert_eq!(cap.interfaces[0].linktype, lt);
        let got: Vec<_> = cap.records.into_iter().map(|r| (r.ts_ns, r.orig_len, r.data)).collect();
        let want: Vec<_> = recs
            .into_iter()
            .map(|(t, l, d)| (t, l.max(u32::try_from(d.len()).unwrap()), d))
            .collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn corpus_files_are_valid() {
    let caps: Vec<Capture> = corpus().iter().map(|f| read(f).unwrap()).collect();
    // The big-endian copy reads the same as the little-endian original.
    assert_eq!(caps[0], caps[1]);
    assert_eq!(caps[1].records.len(), 3);
    assert_eq!(caps[2].interfaces.len(), 4);
    assert_eq!(caps[2].records[3].interface, 2);
    assert_eq!(caps[3], caps[4]);
    assert_eq!(caps[4].records.len(), 3);
    assert_eq!(caps[5].records[0].ts_ns, 5_000);
}
