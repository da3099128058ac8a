//! Live capture on many interfaces of many namespaces at once, with libpcap.
//!
//! Each capture point (namespace, interface, direction) gets its own pcap handle, opened
//! on a thread that entered the namespace and that exits when the capture stops. Frames
//! from every point arrive on one channel, stamped in nanoseconds. Drops are counted per
//! point (libpcap's and the kernel's) and reported, never hidden.

mod points;

pub use points::{lab_points, node_of_netns};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use crate::netns;

/// Which way a frame crossed an interface, from the interface's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    /// Received by the interface.
    In,
    /// Sent by the interface.
    Out,
}

impl Dir {
    /// `in` or `out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

/// One place where frames are captured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Point {
    /// Lab node (`HOST` or `HOST/NAME`).
    pub node: String,
    /// Network namespace.
    pub netns: String,
    /// Interface name.
    pub iface: String,
    /// Direction captured.
    pub dir: Dir,
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} {}", self.node, self.iface, self.dir.as_str())
    }
}

/// A captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Index of its capture point.
    pub point: usize,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length on the wire.
    pub len: u32,
    /// Captured bytes (Ethernet frame).
    pub data: Vec<u8>,
}

/// What one capture point saw and lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PointStats {
    /// Frames delivered to vxlab.
    pub captured: u64,
    /// Frames libpcap received (`ps_recv`).
    pub received: u32,
    /// Frames dropped because vxlab's buffer was full (`ps_drop`).
    pub dropped: u32,
    /// Frames dropped by the interface or driver (`ps_ifdrop`).
    pub if_dropped: u32,
    /// Why the point could not capture, if it could not.
    pub error: Option<String>,
}

/// Capture options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bytes kept per frame.
    pub snaplen: i32,
    /// Kernel buffer per point, bytes.
    pub buffer: i32,
    /// Only frames matching this BPF filter (tcpdump syntax).
    pub filter: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            snaplen: 512,
            buffer: 4 << 20,
            filter: None,
        }
    }
}

/// A running capture on a set of points.
pub struct Capture {
    /// The points, indexed by [`Frame::point`]; grows when [`Capture::follow`] adds some.
    pub points: Vec<Point>,
    stop: Arc<AtomicBool>,
    threads: Vec<(usize, JoinHandle<std::io::Result<PointStats>>)>,
    tx: Sender<Frame>,
    frames: Receiver<Frame>,
    /// Points that failed to open, with the reason.
    pub failed: Vec<(usize, String)>,
    live: Vec<Arc<Mutex<PointStats>>>,
    opts: Options,
}

impl Capture {
    /// Opens every point and starts capturing. Returns once every handle is open (or has
    /// failed), so nothing sent afterwards is missed.
    pub fn start(points: Vec<Point>, opts: &Options) -> Self {
        let (tx, frames) = mpsc::channel();
        let mut cap = Self {
            points: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            tx,
            frames,
            failed: Vec::new(),
            live: Vec::new(),
            opts: opts.clone(),
        };
        cap.open(points);
        cap
    }

    /// Starts capturing on the points of `current` not captured yet — interfaces that
    /// appeared since the capture started — and returns their indexes. Points that
    /// disappeared end by themselves (their handle reports the interface gone).
    pub fn follow(&mut self, current: Vec<Point>) -> Vec<usize> {
        let new: Vec<Point> = current
            .into_iter()
            .filter(|p| !self.points.contains(p))
            .collect();
        let first = self.points.len();
        self.open(new);
        (first..self.points.len()).collect()
    }

    fn open(&mut self, points: Vec<Point>) {
        let (ready_tx, ready_rx) = mpsc::channel::<(usize, Result<(), String>)>();
        let mut opened = 0;
        for p in points {
            let i = self.points.len();
            let live = Arc::new(Mutex::new(PointStats::default()));
            let (p2, tx, ready, stop, opts, slot) = (
                p.clone(),
                self.tx.clone(),
                ready_tx.clone(),
                self.stop.clone(),
                self.opts.clone(),
                live.clone(),
            );
            match netns::spawn_in(&p.netns, move || {
                Ok(run_point(i, &p2, &opts, &tx, &ready, &stop, &slot))
            }) {
                Ok(t) => {
                    self.threads.push((i, t));
                    opened += 1;
                }
                Err(e) => self.failed.push((i, e.to_string())),
            }
            self.points.push(p);
            self.live.push(live);
        }
        drop(ready_tx);
        for _ in 0..opened {
            match ready_rx.recv_timeout(Duration::from_secs(5)) {
                Ok((i, Err(e))) => self.failed.push((i, e)),
                Ok((_, Ok(()))) => {}
                Err(_) => break,
            }
        }
    }

    /// Each point's counters as of the last half second, while capturing: drops show up
    /// while they happen, not only at the end.
    pub fn stats(&self) -> Vec<PointStats> {
        self.live
            .iter()
            .map(|m| m.lock().map(|s| s.clone()).unwrap_or_default())
            .collect()
    }

    /// Frames captured so far, without waiting.
    pub fn drain(&self) -> Vec<Frame> {
        self.frames.try_iter().collect()
    }

    /// Waits up to `timeout` for the next frame.
    pub fn next_timeout(&self, timeout: Duration) -> Option<Frame> {
        self.frames.recv_timeout(timeout).ok()
    }

    /// Stops every point and returns the frames not yet drained and each point's counters.
    pub fn stop(self) -> (Vec<Frame>, Vec<PointStats>) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.tx);
        let mut stats = vec![PointStats::default(); self.points.len()];
        for (i, e) in &self.failed {
            stats[*i].error = Some(e.clone());
        }
        for (i, t) in self.threads {
            match t.join() {
                Ok(Ok(s)) => stats[i] = s,
                Ok(Err(e)) => stats[i].error = Some(e.to_string()),
                Err(_) => stats[i].error = Some("capture thread panicked".into()),
            }
        }
        let frames = self.frames.try_iter().collect();
        (frames, stats)
    }
}

fn run_point(
    i: usize,
    p: &Point,
    opts: &Options,
    tx: &Sender<Frame>,
    ready: &Sender<(usize, Result<(), String>)>,
    stop: &AtomicBool,
    live: &Mutex<PointStats>,
) -> PointStats {
    let mut stats = PointStats::default();
    let opened = pcap::Capture::from_device(p.iface.as_str())
        .map(|c| {
            c.promisc(false)
                .immediate_mode(true)
                .snaplen(opts.snaplen)
                .buffer_size(opts.buffer)
                .timeout(50)
                .precision(pcap::Precision::Nano)
        })
        .and_then(pcap::Capture::open)
        .and_then(|c| {
            c.direction(match p.dir {
                Dir::In => pcap::Direction::In,
                Dir::Out => pcap::Direction::Out,
            })?;
            if let Some(f) = &opts.filter {
                let mut c = c;
                c.filter(f, true)?;
                return Ok(c);
            }
            Ok(c)
        });
    let cap = match opened.and_then(pcap::Capture::setnonblock) {
        Ok(c) => {
            let _ = ready.send((i, Ok(())));
            c
        }
        Err(e) => {
            let msg = format!("{p}: {e}");
            let _ = ready.send((i, Err(msg.clone())));
            stats.error = Some(msg);
            return stats;
        }
    };
    pump(i, p, cap, tx, stop, live, stats)
}

/// Moves frames from one handle to the channel until `stop`, waiting on the handle's file
/// descriptor with a timeout (libpcap's own timeout is not honoured in immediate mode, so
/// a quiet interface would otherwise never notice `stop`). Publishes counters to `live`
/// twice a second.
fn pump(
    i: usize,
    p: &Point,
    mut cap: pcap::Capture<pcap::Active>,
    tx: &Sender<Frame>,
    stop: &AtomicBool,
    live: &Mutex<PointStats>,
    mut stats: PointStats,
) -> PointStats {
    use std::os::fd::AsFd;
    let mut published = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match cap.next_packet() {
            Ok(pkt) => {
                let ts = pkt.header.ts;
                let ts_ns = u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000
                    + u64::try_from(ts.tv_usec).unwrap_or(0);
                stats.captured += 1;
                let frame = Frame {
                    point: i,
                    ts_ns,
                    len: pkt.header.len,
                    data: pkt.data.to_vec(),
                };
                if tx.send(frame).is_err() {
                    break;
                }
                continue;
            }
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => {}
            Err(e) => {
                stats.error = Some(format!("{p}: {e}"));
                break;
            }
        }
        let mut fds = [nix::poll::PollFd::new(
            cap.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u16));
        if published.elapsed() > Duration::from_millis(500) {
            read_counters(&mut cap, &mut stats);
            if let Ok(mut slot) = live.lock() {
                slot.clone_from(&stats);
            }
            published = std::time::Instant::now();
        }
    }
    read_counters(&mut cap, &mut stats);
    stats
}

fn read_counters(cap: &mut pcap::Capture<pcap::Active>, stats: &mut PointStats) {
    if let Ok(s) = cap.stats() {
        stats.received = s.received;
        stats.dropped = s.dropped;
        stats.if_dropped = s.if_dropped;
    }
}
