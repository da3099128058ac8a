//! Round trips through files: a pcapng with three capture points and packet comments, and
//! classic nanosecond pcap, written and read back equal.

use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv4Addr;

use vxlab::decode::build::icmp_echo_frame;
use vxlab::pcapfile::{
    Capture, Format, Interface, PcapngWriter, Record, detect, linktype, read, read_file,
    write_pcap, write_pcapng,
};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 4);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 14);
const T0: u64 = 1_700_000_000_123_456_789;

fn three_interfaces() -> Vec<Interface> {
    vec![
        Interface::ethernet("ns1/veth0", Some("netns ns1, interface veth0")),
        Interface {
            name: "host/vxlan100".into(),
            description: None,
            linktype: linktype::ETHERNET,
            snaplen: 64,
        },
        Interface {
            name: "ns2/any".into(),
            description: Some("netns ns2, all interfaces (cooked)".into()),
            linktype: linktype::LINUX_SLL2,
            snaplen: 0,
        },
    ]
}

/// One ICMP echo seen at every capture point in turn, with a comment naming the hop.
fn capture() -> Capture {
    let interfaces = three_interfaces();
    let mut records = Vec::new();
    for seq in 0..20u16 {
        let frame = icmp_echo_frame(A, B, seq % 2 == 0, 7, seq, &[0xAB; 37]);
        let orig_len = u32::try_from(frame.len()).unwrap();
        for (hop, iface) in interfaces.iter().enumerate() {
            let mut data = frame.clone();
            if iface.snaplen != 0 {
                data.truncate(iface.snaplen as usize);
            }
            records.push(Record {
                interface: hop,
                ts_ns: T0 + u64::from(seq) * 1_000_000 + hop as u64 * 1_234,
                orig_len,
                data,
                comment: (hop != 1).then(|| format!("hop {}: {} seq {seq}", hop + 1, iface.name)),
                direction: match hop {
                    0 => Some(vxlab::pcapfile::Direction::Outbound),
                    1 => Some(vxlab::pcapfile::Direction::Inbound),
                    _ => None,
                },
            });
        }
    }
    Capture {
        interfaces,
        records,
    }
}

#[test]
fn pcapng_three_interfaces_round_trip_through_a_file() {
    let cap = capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.pcapng");

    let mut w = PcapngWriter::new(BufWriter::new(File::create(&path).unwrap()), "vxlab").unwrap();
    for (i, iface) in cap.interfaces.iter().enumerate() {
        assert_eq!(w.add_interface(iface).unwrap(), i);
    }
    for r in &cap.records {
        w.write_directed(
            r.interface,
            r.ts_ns,
            r.orig_len,
            &r.data,
            r.comment.as_deref(),
            r.direction,
        )
        .unwrap();
    }
    drop(w.finish().unwrap());

    let back = read_file(&path).unwrap();
    assert_eq!(back, cap);
    assert_eq!(back.records.len(), 60);
    assert_eq!(back.interface_of(&back.records[5]).unwrap().name, "ns2/any");
    // The same capture written in one call gives the same bytes.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(detect(&bytes), Some(Format::Pcapng));
    assert_eq!(write_pcapng(Vec::new(), &cap, "vxlab").unwrap(), bytes);
}

#[test]
fn classic_pcap_round_trip_through_a_file() {
    let frames: Vec<(u64, u32, Vec<u8>)> = (0..100u16)
        .map(|seq| {
            let f = icmp_echo_frame(A, B, true, 1, seq, &vec![0; usize::from(seq)]);
            (T0 + u64::from(seq), u32::try_from(f.len()).unwrap() + 4, f)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.pcap");
    write_pcap(
        File::create(&path).unwrap(),
        linktype::ETHERNET,
        frames.iter().map(|(t, l, d)| (*t, *l, d.as_slice())),
    )
    .unwrap();
    let cap = read_file(&path).unwrap();
    assert_eq!(detect(&std::fs::read(&path).unwrap()), Some(Format::Pcap));
    assert_eq!(cap.interfaces.len(), 1);
    assert_eq!(cap.interfaces[0].linktype, linktype::ETHERNET);
    let got: Vec<_> = cap
        .records
        .into_iter()
        .map(|r| {
            assert_eq!((r.interface, r.comment), (0, None));
            (r.ts_ns, r.orig_len, r.data)
        })
        .collect();
    assert_eq!(got, frames);
}

#[test]
fn empty_files_are_valid() {
    let w = PcapngWriter::new(Vec::new(), "vxlab").unwrap();
    assert_eq!(read(&w.finish().unwrap()).unwrap(), Capture::default());
    let mut out = Vec::new();
    write_pcap(&mut out, linktype::RAW, std::iter::empty()).unwrap();
    let cap = read(&out).unwrap();
    assert!(cap.records.is_empty());
    assert_eq!(cap.interfaces[0].linktype, linktype::RAW);
}
