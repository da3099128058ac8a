//! `vxlab trace`: send a probe from a node, capture on every interface of the lab, and
//! print each packet's journey hop by hop.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use vxlab::capture::{Capture, Dir, Frame, Options, Point, PointStats, lab_points};
use vxlab::decode::DecodeOptions;
use vxlab::explain::drops::{DropWatch, KernelDrop};
use vxlab::model::netns_name;
use vxlab::netns;
use vxlab::pcapfile::{Direction, Interface, PcapngWriter};
use vxlab::trace::{Journey, Topology, correlate, journeys_text};

use super::lab_cmds::runtime;
use super::load::{require_root, running};

/// `vxlab trace LAB --from NODE (--ping IP | --tcp IP:PORT | --udp IP:PORT)`
#[derive(Args)]
#[command(group(clap::ArgGroup::new("probe").required(true).args(["ping", "tcp", "udp"])))]
pub struct TraceArgs {
    /// A lab that is up.
    lab: String,
    /// Node that sends the probe, e.g. hostA/container.
    #[arg(long)]
    from: String,
    /// Send ICMP echo requests to this address.
    #[arg(long, value_name = "IP")]
    ping: Option<IpAddr>,
    /// Open a TCP connection (and send an HTTP GET) to this address.
    #[arg(long, value_name = "IP:PORT")]
    tcp: Option<SocketAddr>,
    /// Send a UDP datagram to this address.
    #[arg(long, value_name = "IP:PORT")]
    udp: Option<SocketAddr>,
    /// Number of probes (pings or datagrams).
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Ping payload size in bytes (`ping -s`), to follow big packets, e.g. against a
    /// VXLAN device's MTU.
    #[arg(long, value_name = "BYTES", requires = "ping")]
    size: Option<u32>,
    /// With --size: set don't-fragment (`ping -M do`); without it fragmenting is allowed.
    #[arg(long, requires = "size")]
    df: bool,
    /// Show every journey captured, not only the probe's.
    #[arg(long)]
    all: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Write every captured frame to this pcapng file: one interface per capture point
    /// (node, interface, direction; the namespace in its description) and each journey's
    /// hop as the packet comment. Opens in Wireshark and tshark.
    #[arg(long, value_name = "FILE")]
    pcapng: Option<std::path::PathBuf>,
}

/// What to send from the probing node.
pub(super) struct ProbeSpec {
    /// ICMP echo requests to this address.
    pub ping: Option<IpAddr>,
    /// A TCP connection (and an HTTP GET) to this address.
    pub tcp: Option<SocketAddr>,
    /// UDP datagrams to this address.
    pub udp: Option<SocketAddr>,
    /// Number of pings or datagrams.
    pub count: u32,
    /// Ping payload bytes (`ping -s`) and the don't-fragment bit (`-M do`, else
    /// `-M dont`); `None`: ping's defaults.
    pub size: Option<(u32, bool)>,
}

/// What a probe's capture saw: every point, frame and journey.
pub(super) struct Observed {
    pub points: Vec<Point>,
    pub frames: Vec<Frame>,
    pub stats: Vec<PointStats>,
    /// Every journey captured, in order of first sighting.
    pub journeys: Vec<Journey>,
    /// Why the probe itself failed (no reply, connection refused), if it did.
    pub probe_error: Option<String>,
    /// What `ping` printed, for a ping probe.
    pub ping_output: String,
    /// The kernel's drop reasons recorded meanwhile (whole machine), or why they could
    /// not be.
    pub drops: Result<Vec<KernelDrop>, String>,
}

/// Captures on every interface of running lab `lab` while node `from` sends `spec`, and
/// correlates what was seen into journeys. Shared by `trace` and `explain`.
pub(super) fn observe(
    lab: &vxlab::model::Lab,
    from: &str,
    spec: &ProbeSpec,
    quiet: bool,
) -> Result<Observed> {
    let ns = netns_name(&lab.name, from);
    if !netns::exists(&ns) {
        bail!(
            "lab `{}` has no node `{}` up (is the lab up? `vxlab status {}`)",
            lab.name,
            from,
            lab.name
        );
    }
    let rt = runtime()?;
    let points = rt
        .block_on(lab_points(&lab.name))
        .context("cannot list the lab's interfaces")?;
    let options = Options::default();
    let capture = Capture::start(points, &options);
    if !quiet {
        eprintln!(
            "capturing on {} points ({} interfaces) of lab {}",
            capture.points.len(),
            capture.points.len() / 2,
            lab.name
        );
    }
    let watch = DropWatch::start();
    let probe_result = send_probe(&ns, spec);
    std::thread::sleep(Duration::from_millis(300));
    let drops = watch.map(DropWatch::stop);
    let points = capture.points.clone();
    let (frames, stats) = capture.stop();
    let (ping_output, probe_error) = match probe_result {
        Ok(out) => (out, None),
        Err(e) => (String::new(), Some(format!("{e:#}"))),
    };
    let topo = Topology::of_lab(lab);
    let journeys = correlate(
        &points,
        &frames,
        &topo,
        &DecodeOptions::default(),
        Some(from),
    );
    Ok(Observed {
        points,
        frames,
        stats,
        journeys,
        probe_error,
        ping_output,
        drops,
    })
}

/// `vxlab trace`
pub fn trace(a: &TraceArgs) -> Result<ExitCode> {
    require_root("trace")?;
    let loaded = running(&a.lab)?;
    super::load::check_node(&a.from)?;
    let lab = loaded.lab;
    let target = a
        .ping
        .or(a.tcp.map(|s| s.ip()))
        .or(a.udp.map(|s| s.ip()))
        .context("no probe")?;
    let spec = ProbeSpec {
        ping: a.ping,
        tcp: a.tcp,
        udp: a.udp,
        count: a.count,
        size: a.size.map(|size| (size, a.df)),
    };
    let Observed {
        points,
        frames,
        stats,
        journeys,
        probe_error: probe_note,
        drops,
        ..
    } = observe(&lab, &a.from, &spec, a.json)?;
    let journeys: Vec<Journey> = journeys
        .into_iter()
        .filter(|j| {
            a.all
                || j.hops
                    .iter()
                    .any(|h| h.src.0 == target || h.dst.0 == target)
        })
        .collect();
    if let Some(path) = &a.pcapng {
        write_pcapng(path, &points, &frames, &journeys)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let dropped: u64 = stats
        .iter()
        .map(|s| u64::from(s.dropped) + u64::from(s.if_dropped))
        .sum();
    if a.json {
        let out = serde_json::json!({
            "lab": lab.name, "from": a.from, "target": target.to_string(),
            "probe_error": probe_note, "frames": frames.len(), "drops": dropped,
            "points": points.iter().zip(&stats).map(|(p, s)| serde_json::json!({"point": p, "stats": s})).collect::<Vec<_>>(),
            "journeys": journeys,
            "kernel_drops": drops.as_ref().ok(), "kernel_drops_unavailable": drops.as_ref().err(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", journeys_text(&journeys));
        if journeys.is_empty() {
            println!("no packet of the probe was seen on any interface of the lab");
        }
        if journeys.is_empty() || journeys.iter().any(|j| !j.delivered) {
            println!("{}", kernel_drops_text(&drops));
        }
        report(&stats, frames.len(), dropped, &points);
        if let Some(n) = &probe_note {
            println!("probe: {n}");
        }
    }
    Ok(
        if journeys.iter().all(|j| j.delivered) && !journeys.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// The kernel's drop reasons recorded during the probe, for the journeys that were lost.
fn kernel_drops_text(drops: &Result<Vec<KernelDrop>, String>) -> String {
    match drops {
        Err(why) => format!("kernel drop reasons: unavailable ({why})"),
        Ok(d) if d.is_empty() => "kernel drop reasons: none recorded during the probe".into(),
        Ok(d) => {
            let shown: Vec<String> = d
                .iter()
                .map(|x| format!("{} in {} ×{}", x.reason, x.location, x.count))
                .collect();
            format!(
                "kernel drop reasons during the probe (whole machine): {}",
                shown.join(", ")
            )
        }
    }
}

fn write_pcapng(
    path: &std::path::Path,
    points: &[Point],
    frames: &[Frame],
    journeys: &[Journey],
) -> std::io::Result<()> {
    let mut comments: Vec<Option<String>> = vec![None; frames.len()];
    for (j, journey) in journeys.iter().enumerate() {
        for (h, hop) in journey.hops.iter().enumerate() {
            let what = if hop.changes.is_empty() {
                String::new()
            } else {
                format!(": {}", hop.changes.join("; "))
            };
            comments[hop.frame] = Some(format!(
                "journey {} hop {}/{} {}:{} {}{what}",
                j + 1,
                h + 1,
                journey.hops.len(),
                hop.node,
                hop.iface,
                hop.dir.as_str()
            ));
        }
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = PcapngWriter::new(file, concat!("vxlab ", env!("CARGO_PKG_VERSION")))?;
    // One interface block per (namespace, interface); the direction goes in each packet.
    let mut blocks: Vec<(&str, &str)> = Vec::new();
    let mut block_of = Vec::with_capacity(points.len());
    for p in points {
        let key = (p.netns.as_str(), p.iface.as_str());
        let i = if let Some(i) = blocks.iter().position(|b| *b == key) {
            i
        } else {
            let desc = format!("interface {} in network namespace {}", p.iface, p.netns);
            w.add_interface(&Interface::ethernet(
                &format!("{}:{}", p.node, p.iface),
                Some(&desc),
            ))?;
            blocks.push(key);
            blocks.len() - 1
        };
        block_of.push(i);
    }
    for (f, comment) in frames.iter().zip(&comments) {
        let dir = match points[f.point].dir {
            Dir::In => Direction::Inbound,
            Dir::Out => Direction::Outbound,
        };
        w.write_directed(
            block_of[f.point],
            f.ts_ns,
            f.len,
            &f.data,
            comment.as_deref(),
            Some(dir),
        )?;
    }
    w.finish()?;
    Ok(())
}

fn report(stats: &[PointStats], frames: usize, dropped: u64, points: &[Point]) {
    println!(
        "\ncaptured {frames} frames on {} points; dropped {dropped}",
        points.len()
    );
    for (p, s) in points.iter().zip(stats) {
        if let Some(e) = &s.error {
            println!("  {p}: not captured: {e}");
        } else if s.dropped + s.if_dropped > 0 {
            println!(
                "  {p}: {} dropped by libpcap, {} by the interface",
                s.dropped, s.if_dropped
            );
        }
    }
}

/// Sends the probe from namespace `ns`; for a ping, returns what ping printed (a ping
/// that got no reply is an error only without a size: with one, its output says why).
fn send_probe(ns: &str, a: &ProbeSpec) -> Result<String> {
    let count = a.count.max(1);
    if let Some(ip) = a.ping {
        let mut args = vec![
            "-c".to_string(),
            count.to_string(),
            "-i".into(),
            "0.2".into(),
            // Two seconds: OVS's userspace datapath drops the first packet into a tunnel
            // while it resolves the remote VTEP itself, and ARP retries after a second.
            "-W".into(),
            "2".into(),
        ];
        if let Some((size, df)) = a.size {
            args.extend([
                "-s".into(),
                size.to_string(),
                "-M".into(),
                if df { "do" } else { "dont" }.into(),
            ]);
        }
        args.push(ip.to_string());
        let out = netns::run_in(ns, move || {
            Command::new("ping")
                .args(&args)
                .stdin(Stdio::null())
                .output()
        })
        .context("cannot run ping (install iputils-ping)")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() && a.size.is_none() {
            bail!("ping {ip}: no reply");
        }
        return Ok(text);
    } else if let Some(addr) = a.tcp {
        netns::run_in(ns, move || {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(
                format!("GET / HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: vxlab-trace\r\n\r\n")
                    .as_bytes(),
            )?;
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            Ok(())
        })
        .with_context(|| format!("TCP connection to {addr}"))?;
    } else if let Some(addr) = a.udp {
        netns::run_in(ns, move || {
            let bind: SocketAddr = if addr.is_ipv4() {
                "0.0.0.0:0".parse()
            } else {
                "[::]:0".parse()
            }
            .map_err(std::io::Error::other)?;
            let s = UdpSocket::bind(bind)?;
            for i in 0..count {
                s.send_to(format!("vxlab probe {i}").as_bytes(), addr)?;
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        })
        .with_context(|| format!("UDP datagram to {addr}"))?;
    }
    Ok(String::new())
}
