//! The panel's effects on the real machine ([`Live`]): building the lab step by step,
//! watching each namespace's tables, capturing on every interface, sending pings; and the
//! terminal's events and the signals as messages.

use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use super::app::Effects;
use super::msg::{Cmd, Msg};
use super::watch;
use crate::capture::{Capture, Options, Point, PointStats, lab_points};
use crate::kernel::{FailAt, Kernel, Netlink};
use crate::lifecycle::{self, UpError};
use crate::model::Lab;
use crate::netns;

/// Frames are sent to the panel in batches gathered over this long.
pub const BATCH: Duration = Duration::from_millis(20);

/// How long [`Live::shutdown`] waits for the capture's counters.
pub const STOP_WAIT: Duration = Duration::from_millis(1500);

/// What the capture saw, for the report after the panel closes.
#[derive(Debug, Clone, Default)]
pub struct CaptureReport {
    /// The points.
    pub points: Vec<Point>,
    /// Each point's counters.
    pub stats: Vec<PointStats>,
}

impl CaptureReport {
    /// Frames captured, and frames dropped by libpcap or the interfaces.
    pub fn totals(&self) -> (u64, u64) {
        let captured = self.stats.iter().map(|s| s.captured).sum();
        let dropped = self
            .stats
            .iter()
            .map(|s| u64::from(s.dropped) + u64::from(s.if_dropped))
            .sum();
        (captured, dropped)
    }
}

/// The real effects of the panel on lab `lab`.
pub struct Live {
    tx: UnboundedSender<Msg>,
    lab: Lab,
    source: String,
    steps: Option<UnboundedSender<()>>,
    tasks: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    reports: (mpsc::Sender<CaptureReport>, mpsc::Receiver<CaptureReport>),
    capturing: bool,
}

impl Live {
    /// Effects on `lab` (built from scenario text `source` if the panel builds it), sending
    /// their results to `tx`.
    pub fn new(lab: Lab, source: String, tx: UnboundedSender<Msg>) -> Self {
        Self {
            tx,
            lab,
            source,
            steps: None,
            tasks: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            reports: mpsc::channel(),
            capturing: false,
        }
    }

    /// Turns SIGTERM, SIGHUP and SIGINT into [`Msg::Quit`]. Must be called within a runtime.
    pub fn quit_on_signals(&mut self) {
        use tokio::signal::unix::{SignalKind, signal};
        for kind in [
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::interrupt(),
        ] {
            let tx = self.tx.clone();
            if let Ok(mut s) = signal(kind) {
                self.tasks.push(tokio::spawn(async move {
                    if s.recv().await.is_some() {
                        let _ = tx.send(Msg::Quit);
                    }
                }));
            }
        }
    }

    /// Stops everything started: watchers, the builder, the capture, whose counters are
    /// returned if it stops within [`STOP_WAIT`]. Sockets in the lab's namespaces close once
    /// the runtime is dropped.
    pub fn shutdown(&mut self) -> Option<CaptureReport> {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.steps = None;
        self.stop.store(true, Ordering::Relaxed);
        if !self.capturing {
            return None;
        }
        // A capture point blocked on a quiet interface only wakes with its next frame
        // (libpcap in immediate mode); its thread ends with the lab or with the process.
        self.reports.1.recv_timeout(STOP_WAIT).ok()
    }

    fn build(&mut self, stepwise: bool) {
        let (step_tx, step_rx) = unbounded_channel();
        if stepwise {
            self.steps = Some(step_tx);
        }
        let (lab, source, tx) = (self.lab.clone(), self.source.clone(), self.tx.clone());
        self.tasks.push(tokio::spawn(async move {
            let mut kernel = Netlink::new();
            kernel.log_dir = Some(lifecycle::state_dir(&lab.name));
            let steps = stepwise.then_some(step_rx);
            let fail_at = std::env::var(lifecycle::FAIL_AT_STEP_ENV)
                .ok()
                .and_then(|v| v.parse().ok());
            let result = match fail_at {
                Some(at) => build(&lab, &source, &mut FailAt::new(kernel, at), steps, &tx).await,
                None => build(&lab, &source, &mut kernel, steps, &tx).await,
            };
            let _ = tx.send(Msg::BuildDone(result.map_err(|e| e.to_string())));
        }));
    }

    fn start_capture(&mut self) {
        self.capturing = true;
        let (name, tx, stop, report) = (
            self.lab.name.clone(),
            self.tx.clone(),
            self.stop.clone(),
            self.reports.0.clone(),
        );
        self.tasks.push(tokio::spawn(async move {
            let points = match lab_points(&name).await {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Msg::CaptureFailed(format!(
                        "cannot list the lab's interfaces: {e}"
                    )));
                    return;
                }
            };
            let pump_tx = tx.clone();
            let (rescan_tx, rescan) = std::sync::mpsc::channel();
            let pump_stop = stop.clone();
            let thread = std::thread::Builder::new()
                .name("capture pump".into())
                .spawn(move || {
                    let tx = pump_tx;
                    let _ = report.send(pump(points, &pump_stop, &tx, &rescan));
                });
            if let Err(e) = thread {
                let _ = tx.send(Msg::CaptureFailed(format!("cannot start a thread: {e}")));
                return;
            }
            // Interfaces come and go (a fault, `ip link add` from another terminal): list
            // them again now and then, and the pump captures on the new ones.
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(RESCAN).await;
                if let Ok(points) = lab_points(&name).await
                    && rescan_tx.send(points).is_err()
                {
                    break;
                }
            }
        }));
    }

    fn ping(&self, node: &str, netns: &str, target: std::net::IpAddr, since: u64) {
        let tx = self.tx.clone();
        let done = {
            let (tx, node) = (tx.clone(), node.to_string());
            move |result| {
                let _ = tx.send(Msg::PingDone {
                    node,
                    target,
                    since,
                    result,
                });
            }
        };
        let done2 = done.clone();
        let started = netns::spawn_in(netns, move || {
            let status = Command::new("ping")
                .args(["-c1", "-W1", &target.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            // Let the capture hand over the last frames before correlating.
            std::thread::sleep(Duration::from_millis(300));
            done(match status {
                Ok(s) if s.success() => Ok(()),
                Ok(_) => Err("no reply".into()),
                Err(e) => Err(format!("cannot run ping (install iputils-ping): {e}")),
            });
            Ok(())
        });
        if let Err(e) = started {
            done2(Err(format!("cannot enter {node}: {e}")));
        }
    }
}

impl Effects for Live {
    fn run(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Quit => {}
            Cmd::Build { stepwise } => self.build(stepwise),
            Cmd::Step => {
                if let Some(s) = &self.steps {
                    let _ = s.send(());
                }
            }
            Cmd::Watch { node, netns } => match watch::spawn(node.clone(), &netns, self.tx.clone())
            {
                Ok(t) => self.tasks.push(t),
                Err(e) => {
                    let _ = self.tx.send(Msg::TablesFailed {
                        node,
                        error: e.to_string(),
                    });
                }
            },
            Cmd::Poll { node, netns } => {
                super::netfilter::follow(&self.lab, node, netns, &self.tx);
            }
            Cmd::StartCapture => self.start_capture(),
            Cmd::WatchExercises => {
                super::exercise::watch(self.lab.name.clone(), self.tx.clone(), self.stop.clone());
            }
            Cmd::Ping {
                node,
                netns,
                target,
                since,
            } => self.ping(&node, &netns, target, since),
        }
    }
}

/// Builds `lab` one operation at a time; with `steps`, waits for a message before each.
/// A failed step rolls everything back. Returns early (lab half built) if `steps` closes.
async fn build<K: Kernel>(
    lab: &Lab,
    source: &str,
    kernel: &mut K,
    mut steps: Option<UnboundedReceiver<()>>,
    tx: &UnboundedSender<Msg>,
) -> Result<(), UpError> {
    let building = lifecycle::begin(lab, source)?;
    let total = building.ops.len();
    for i in 0..total {
        if let Some(rx) = &mut steps
            && rx.recv().await.is_none()
        {
            return Ok(());
        }
        let _ = tx.send(Msg::BuildStep { step: i + 1, total });
        building.step(i, kernel).await?;
        let _ = tx.send(Msg::OpDone { step: i + 1 });
    }
    Ok(())
}

/// How often the lab's interfaces are listed again, to capture on new ones.
const RESCAN: Duration = Duration::from_secs(2);

/// Captures on `points` (and on the lists `rescan` brings) and sends the frames in
/// batches until `stop`.
/// Tells the panel which points `cap` captures on, and which it could not open.
fn announce(cap: &Capture, tx: &UnboundedSender<Msg>) {
    let failed = cap
        .failed
        .iter()
        .map(|(i, e)| format!("{}: {e}", cap.points[*i]))
        .collect();
    let _ = tx.send(Msg::CaptureStarted {
        points: cap.points.clone(),
        failed,
    });
}

fn pump(
    points: Vec<Point>,
    stop: &AtomicBool,
    tx: &UnboundedSender<Msg>,
    rescan: &std::sync::mpsc::Receiver<Vec<Point>>,
) -> CaptureReport {
    let mut cap = Capture::start(points, &Options::default());
    announce(&cap, tx);
    let mut counted = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(current) = rescan.try_recv()
            && !cap.follow(current).is_empty()
        {
            announce(&cap, tx);
        }
        if counted.elapsed() > Duration::from_secs(1) {
            let drops = cap
                .stats()
                .iter()
                .map(|s| u64::from(s.dropped) + u64::from(s.if_dropped))
                .sum();
            let _ = tx.send(Msg::CaptureDrops(drops));
            counted = Instant::now();
        }
        let Some(first) = cap.next_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let mut batch = vec![first];
        let until = Instant::now() + BATCH;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match cap.next_timeout(left) {
                Some(f) => batch.push(f),
                None => break,
            }
        }
        if tx.send(Msg::Frames(batch)).is_err() {
            break;
        }
    }
    let points = cap.points.clone();
    let (_, stats) = cap.stop();
    CaptureReport { points, stats }
}

/// The terminal's key, mouse and resize events, as messages.
pub fn terminal_events() -> Pin<Box<dyn Stream<Item = Msg> + Send>> {
    Box::pin(EventStream::new().filter_map(|e| async move {
        match e {
            Ok(Event::Key(k)) => Some(Msg::Key(k)),
            Ok(Event::Mouse(m)) => Some(Msg::Mouse(m)),
            Ok(Event::Resize(w, h)) => Some(Msg::Resize(w, h)),
            _ => None,
        }
    }))
}
