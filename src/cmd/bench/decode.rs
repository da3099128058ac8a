//! Decode rate on a generated capture of VXLAN frames, against tshark on the same file.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use vxlab::decode::build::{icmp_echo_frame, vxlan_frame};
use vxlab::decode::{DecodeOptions, decode};
use vxlab::pcapfile::{linktype, read_file, write_pcap};

fn rate(n: usize, t: Duration) -> String {
    #[expect(clippy::cast_precision_loss, reason = "a rate for display")]
    let per_s = n as f64 / t.as_secs_f64();
    format!("{per_s:>10.0} frames/s  ({t:.2?} for {n})")
}

fn time_process(cmd: &mut Command) -> Result<Duration> {
    let t = Instant::now();
    let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    anyhow::ensure!(status.success(), "{cmd:?} failed");
    Ok(t.elapsed())
}

/// Generates `n` VXLAN-encapsulated ICMP frames and decodes them with vxlab and tshark.
pub fn run(n: usize) -> Result<()> {
    let path = std::env::temp_dir().join(format!("vxlab-bench-{}.pcap", std::process::id()));
    let (src, dst): (Ipv4Addr, Ipv4Addr) = ([10, 0, 0, 4].into(), [10, 0, 0, 14].into());
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let seq = u16::try_from(i % 65536).unwrap_or(0);
            let inner = icmp_echo_frame(
                src,
                dst,
                i % 2 == 0,
                7,
                seq,
                b"vxlab benchmark payload.........",
            );
            vxlan_frame(
                [192, 168, 228, 148].into(),
                [192, 168, 228, 149].into(),
                (40000, 4789),
                100,
                &inner,
            )
        })
        .collect();
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    write_pcap(
        file,
        linktype::ETHERNET,
        frames
            .iter()
            .enumerate()
            .map(|(i, f)| (i as u64 * 1000, 0, f.as_slice())),
    )?;
    drop(frames);
    println!(
        "decode: {n} VXLAN frames (outer Ethernet/IPv4/UDP/VXLAN, inner Ethernet/IPv4/ICMP), {}",
        path.display()
    );

    let opts = DecodeOptions::default();
    let t = Instant::now();
    let cap = read_file(&path)?;
    let read = t.elapsed();
    let t = Instant::now();
    let mut bytes = 0usize;
    for r in &cap.records {
        bytes += decode(&r.data, &opts).layers.len();
    }
    let layers_only = t.elapsed();
    let t = Instant::now();
    for r in &cap.records {
        bytes += decode(&r.data, &opts).summary().len();
    }
    let with_summary = t.elapsed();
    std::hint::black_box(bytes);
    drop(cap);
    println!("  vxlab read file (in process)        {}", rate(n, read));
    println!(
        "  vxlab decode, layers only           {}",
        rate(n, layers_only)
    );
    println!(
        "  vxlab decode + one-line summary     {}",
        rate(n, with_summary)
    );
    let exe = std::env::current_exe()?;
    let vx = time_process(Command::new(&exe).arg("read").arg(&path))?;
    println!("  `vxlab read FILE` (whole process)   {}", rate(n, vx));
    match time_process(Command::new("tshark").arg("-n").arg("-r").arg(&path)) {
        Ok(t) => println!("  `tshark -n -r FILE` (whole process) {}", rate(n, t)),
        Err(e) => println!("  tshark: not measured ({e})"),
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}
