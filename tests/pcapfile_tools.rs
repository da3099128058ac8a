//! Oracle tests against tshark and tcpdump.
//!
//! - tshark reads a pcapng written by [`PcapngWriter`] and reports the same interface names
//!   and descriptions, comments, timestamps and lengths that were written;
//! - tcpdump and tshark read a classic pcap written by [`write_pcap`];
//! - vxlab reads captures made by tcpdump (classic pcap, microsecond and nanosecond) and by
//!   tshark (pcapng) on the loopback interface, agreeing with tshark on every packet.
//!
//! The live captures see only UDP datagrams this test sends to itself on 127.0.0.1, with a
//! capture filter on the test's own port, a bounded count and a 15-second deadline. A test
//! whose tool is missing (or cannot capture) prints "skipped: …" to stderr and returns.

#[path = "common/skip.rs"]
mod skip;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vxlab::decode::build::icmp_echo_frame;
use vxlab::pcapfile::{Interface, PcapngWriter, linktype, read_file, write_pcap};

const T0: u64 = 1_700_000_000_123_456_789;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a tool and returns its standard output; panics with its stderr on failure.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The name of tshark's packet-comment field: `frame.comment` in recent versions,
/// `pkt_comment` in older ones.
fn comment_field() -> &'static str {
    let fields = run(Command::new("tshark").args(["-G", "fields"]));
    if fields
        .lines()
        .any(|l| l.split('\t').nth(2) == Some("frame.comment"))
    {
        "frame.comment"
    } else {
        "pkt_comment"
    }
}

/// `tshark -r FILE -T fields` with one line per packet and one column per field.
fn tshark_fields(path: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    run(&mut cmd)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn epoch(ts_ns: u64) -> String {
    format!("{}.{:09}", ts_ns / 1_000_000_000, ts_ns % 1_000_000_000)
}

#[test]
fn tshark_reads_our_pcapng() {
    if !have("tshark") {
        skip::skip(format_args!("tshark not found"));
        return;
    }
    let ifaces = [
        Interface::ethernet("ns1/veth0", Some("netns ns1, interface veth0, egress")),
        Interface::ethernet("host/vxlan100", None),
        Interface {
            name: "ns2/eth0".into(),
            description: Some("netns ns2, interface eth0".into()),
            linktype: linktype::ETHERNET,
            snaplen: 48,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hops.pcapng");
    let mut w = PcapngWriter::new(std::fs::File::create(&path).unwrap(), "vxlab test").unwrap();
    for i in &ifaces {
        w.add_interface(i).unwrap();
    }
    let mut expected = Vec::new();
    for seq in 0..4u16 {
        let frame = icmp_echo_frame(
            [10, 0, 0, 4].into(),
            [10, 0, 0, 14].into(),
            true,
            9,
            seq,
            b"payload",
        );
        for (hop, iface) in ifaces.iter().enumerate() {
            let ts = T0 + u64::from(seq) * 1_000_000_007 + 11 * u64::try_from(hop).unwrap();
            let comment = (seq != 2).then(|| format!("hop {}: {} seq {seq}", hop + 1, iface.name));
            let data = &frame[..frame
                .len()
                .min(if iface.snaplen == 0 { usize::MAX } else { 48 })];
            let orig = u32::try_from(frame.len()).unwrap();
            w.write(hop, ts, orig, data, comment.as_deref()).unwrap();
            expected.push(vec![
                hop.to_string(),
                iface.name.clone(),
                iface.description.clone().unwrap_or_default(),
                comment.unwrap_or_default(),
                epoch(ts),
                orig.to_string(),
                data.len().to_string(),
            ]);
        }
    }
    w.finish().unwrap();

    let got = tshark_fields(
        &path,
        &[
            "frame.interface_id",
            "frame.interface_name",
            "frame.interface_description",
            comment_field(),
            "frame.time_epoch",
            "frame.len",
            "frame.cap_len",
        ],
    );
    assert_eq!(got, expected);
}

#[test]
fn tcpdump_and_tshark_read_our_classic_pcap() {
    let frames: Vec<Vec<u8>> = (0..5u16)
        .map(|seq| {
            icmp_echo_frame(
                [10, 0, 0, 4].into(),
                [10, 0, 0, 14].into(),
                false,
                3,
                seq,
                b"x",
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.pcap");
    let recs = frames.iter().enumerate().map(|(i, f)| {
        let i = u64::try_from(i).unwrap();
        (
            T0 + i * 999_999_999,
            u32::try_from(f.len()).unwrap() + 100,
            &f[..],
        )
    });
    write_pcap(
        std::fs::File::create(&path).unwrap(),
        linktype::ETHERNET,
        recs,
    )
    .unwrap();

    let mut ran = false;
    if have("tcpdump") {
        ran = true;
        let out = run(Command::new("tcpdump")
            .args(["-nn", "-tt", "--time-stamp-precision=nano", "-r"])
            .arg(&path)
            .stderr(Stdio::null()));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        for (i, line) in lines.iter().enumerate() {
            let ts = T0 + u64::try_from(i).unwrap() * 999_999_999;
            assert!(line.starts_with(&epoch(ts)), "{line}");
            assert!(
                line.contains("10.0.0.4 > 10.0.0.14: ICMP echo reply"),
                "{line}"
            );
        }
    } else {
        skip::skip(format_args!("tcpdump not found"));
    }
    if have("tshark") {
        ran = true;
        let got = tshark_fields(
            &path,
            &["frame.time_epoch", "frame.len", "frame.cap_len", "icmp.seq"],
        );
        let expected: Vec<Vec<String>> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let ts = T0 + u64::try_from(i).unwrap() * 999_999_999;
                vec![
                    epoch(ts),
                    (f.len() + 100).to_string(),
                    f.len().to_string(),
                    i.to_string(),
                ]
            })
            .collect();
        assert_eq!(got, expected);
    } else {
        skip::skip(format_args!("tshark not found"));
    }
    if !ran {
        skip::skip(format_args!("neither tcpdump nor tshark found"));
    }
}

/// Starts `cmd` (a capture of `count` packets on `lo` filtered on `port`), waits for it to
/// print `ready` on stderr, then sends UDP datagrams to `port` until it exits. Returns
/// `false` (after printing why) if the tool could not start capturing.
fn capture_live(cmd: &mut Command, ready: &str, port: u16) -> bool {
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("capture tool starts");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut said = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains(ready) => break,
            Ok(line) => said.push(line),
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                skip::skip(format_args!(
                    "{cmd:?} could not capture: {}",
                    said.join(" | ")
                ));
                return false;
            }
        }
    }
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut n = 0u32;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{cmd:?} failed: {status}");
            return true;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish in time after {n} datagrams");
        }
        n += 1;
        sock.send_to(
            format!("vxlab pcapfile test {n}").as_bytes(),
            (Ipv4Addr::LOCALHOST, port),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A UDP port bound (and so owned) by this test, which receives its datagrams.
fn free_port() -> (UdpSocket, u16) {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

/// Checks a capture of `count` UDP datagrams to `port` on `lo`, against tshark if present.
fn check_live_capture(path: &Path, count: usize, port: u16, iface_name: &str) {
    let cap = read_file(path).unwrap();
    assert_eq!(cap.records.len(), count);
    assert_eq!(cap.interfaces.len(), 1);
    assert_eq!(cap.interfaces[0].linktype, linktype::ETHERNET);
    assert_eq!(cap.interfaces[0].name, iface_name);
    for r in &cap.records {
        assert_eq!(r.interface, 0);
        assert_eq!(r.orig_len as usize, r.data.len());
        // Ethernet / IPv4 / UDP to our port.
        assert_eq!(&r.data[12..14], &[0x08, 0x00]);
        assert_eq!(r.data[23], 17);
        assert_eq!(&r.data[36..38], &port.to_be_bytes());
    }
    if have("tshark") {
        let got = tshark_fields(path, &["frame.time_epoch", "frame.len", "udp.dstport"]);
        let ours: Vec<Vec<String>> = cap
            .records
            .iter()
            .map(|r| vec![epoch(r.ts_ns), r.orig_len.to_string(), port.to_string()])
            .collect();
        assert_eq!(got, ours);
    }
}

#[test]
fn reads_tcpdump_loopback_captures() {
    if !have("tcpdump") {
        skip::skip(format_args!("tcpdump not found"));
        return;
    }
    for precision in ["micro", "nano"] {
        let (_sink, port) = free_port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("lo-{precision}.pcap"));
        let started = capture_live(
            Command::new("tcpdump")
                .args([
                    "-i",
                    "lo",
                    "-c",
                    "4",
                    "-U",
                    "--time-stamp-precision",
                    precision,
                    "-w",
                ])
                .arg(&path)
                .args(["udp", "and", "dst", "port", &port.to_string()]),
            "listening on",
            port,
        );
        if !started {
            return;
        }
        let magic = &std::fs::read(&path).unwrap()[..4];
        let expect = if precision == "nano" {
            0xA1B2_3C4Du32
        } else {
            0xA1B2_C3D4
        };
        assert_eq!(magic, expect.to_ne_bytes());
        check_live_capture(&path, 4, port, "");
    }
}

#[test]
fn reads_tshark_loopback_pcapng() {
    if !have("tshark") {
        skip::skip(format_args!("tshark not found"));
        return;
    }
    let (_sink, port) = free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lo.pcapng");
    let started = capture_live(
        Command::new("tshark")
            .args(["-i", "lo", "-c", "5", "-f"])
            .arg(format!("udp and dst port {port}"))
            .arg("-w")
            .arg(&path),
        "Capturing on",
        port,
    );
    if started {
        assert_eq!(
            &std::fs::read(&path).unwrap()[..4],
            &[0x0A, 0x0D, 0x0D, 0x0A]
        );
        check_live_capture(&path, 5, port, "lo");
    }
}
