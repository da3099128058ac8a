//! Measures the panel without a terminal (`vxlab bench-ui`): how long a frame takes to
//! draw with a full packet buffer (into ratatui's `TestBackend`), and how many messages
//! [`update`] takes per second. Synthetic data only; no root, no kernel.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::layout::view;
use super::model::{CaptureState, Focus, Model, Phase};
use super::msg::Msg;
use super::update::update;
use crate::capture::{Dir, Frame, Point};
use crate::decode::build::{icmp_echo_frame, vxlan_frame};
use crate::model::Lab;
use crate::observe::{FdbRow, LinkRow, Tables};

/// Capture points for every interface of `lab`, both directions, as `lab_points` would
/// list them once the lab is up.
pub fn synthetic_points(lab: &Lab) -> Vec<Point> {
    let mut points = Vec::new();
    for (dev, _) in lab.interfaces() {
        let netns = lab
            .node(&dev.node)
            .map_or_else(String::new, |n| n.netns.clone());
        for dir in [Dir::In, Dir::Out] {
            points.push(Point {
                node: dev.node.clone(),
                netns: netns.clone(),
                iface: dev.name.clone(),
                dir,
            });
        }
    }
    points
}

/// `n` frames spread over `points`: pings between 10.0.0.4 and 10.0.0.14, every third one
/// inside VXLAN, 10 µs apart.
pub fn synthetic_frames(n: usize, points: usize, start: usize) -> Vec<Frame> {
    (start..start + n)
        .map(|i| {
            let seq = u16::try_from(i % 65_536).unwrap_or(0);
            let (a, b) = (Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 14));
            let inner = icmp_echo_frame(a, b, i % 2 == 0, 7, seq, b"vxlab bench payload");
            let data = if i % 3 == 0 {
                vxlan_frame(
                    Ipv4Addr::new(192, 168, 228, 148),
                    Ipv4Addr::new(192, 168, 228, 149),
                    (40_000, 4789),
                    100,
                    &inner,
                )
            } else {
                inner
            };
            Frame {
                point: i % points.max(1),
                ts_ns: 1_700_000_000_000_000_000 + u64::try_from(i).unwrap_or(0) * 10_000,
                len: u32::try_from(data.len()).unwrap_or(0),
                data,
            }
        })
        .collect()
}

/// Tables with `n` FDB rows on `vxlan0`, the `k`-th row's destination varying with `gen`.
pub fn synthetic_tables(n: usize, generation: u8) -> Tables {
    let link = |name: &str, index: u32| LinkRow {
        index,
        name: name.into(),
        kind: "veth".into(),
        up: true,
        state: "UP".into(),
        mtu: 1500,
        mac: "02:42:0a:00:00:01".into(),
        master: Some("edge_bridge".into()),
        vxlan: None,
    };
    Tables {
        links: vec![link("veth103", 2), link("veth104", 3), link("vxlan0", 4)],
        fdb: (0..n)
            .map(|i| FdbRow {
                dev: "vxlan0".into(),
                mac: format!("02:42:0a:00:{:02x}:{:02x}", i / 256, i % 256),
                dst: Some(std::net::IpAddr::V4(Ipv4Addr::new(
                    192,
                    168,
                    228,
                    if i == 0 { 149 } else { generation },
                ))),
                vni: None,
                self_: true,
                master: None,
                state: "permanent".into(),
            })
            .collect(),
        ..Tables::default()
    }
}

fn per_sec(n: usize, d: Duration) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "a rate for display")]
    let n = n as f64;
    n / d.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the benchmark on `lab` with `packets` frames in the buffer; returns the report.
pub fn run(lab: Lab, packets: usize, frames: usize) -> String {
    let mut out = String::new();
    let points = synthetic_points(&lab);
    let mut m = Model::with_capacity(lab, Phase::Attached, (160, 45), true, packets);
    m.capture = CaptureState::Running {
        failed: Vec::new(),
        dropped: 0,
    };
    let _ = update(
        &mut m,
        Msg::CaptureStarted {
            points: points.clone(),
            failed: Vec::new(),
        },
    );
    let node = m
        .topo
        .nodes
        .get(2)
        .map(|n| n.id.clone())
        .unwrap_or_default();
    let _ = update(
        &mut m,
        Msg::Tables {
            node: node.clone(),
            tables: synthetic_tables(50, 1),
        },
    );
    m.selected = 2;

    let t = Instant::now();
    let batch = 1000;
    let mut pushed = 0;
    while pushed < packets {
        let n = batch.min(packets - pushed);
        let _ = update(
            &mut m,
            Msg::Frames(synthetic_frames(n, points.len(), pushed)),
        );
        pushed += n;
    }
    let push = t.elapsed();
    let _ = writeln!(
        out,
        "update(Frames): {packets} frames in batches of {batch}: {:.1} ms, {:.0} frames/s (decode + summary + ring)",
        ms(push),
        per_sec(packets, push)
    );

    let mut term = match Terminal::new(TestBackend::new(160, 45)) {
        Ok(t) => t,
        Err(e) => return format!("cannot make a test terminal: {e}"),
    };
    let draw = |term: &mut Terminal<TestBackend>, m: &Model, n: usize| {
        let t = Instant::now();
        for _ in 0..n {
            let _ = term.draw(|f| view(m, f));
        }
        t.elapsed()
    };
    let d = draw(&mut term, &m, frames);
    let _ = writeln!(
        out,
        "view: {frames} frames at 160x45 following the newest of {} packets: {:.3} ms per frame",
        m.packets.len(),
        ms(d) / f64::from(u32::try_from(frames).unwrap_or(1))
    );
    m.focus = Focus::Packets;
    let up = Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE));
    let _ = update(&mut m, up.clone());
    let d = draw(&mut term, &m, frames);
    let _ = writeln!(
        out,
        "view: with a packet selected and its journey shown: {:.3} ms per frame",
        ms(d) / f64::from(u32::try_from(frames).unwrap_or(1))
    );
    let _ = update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE)),
    );
    let t = Instant::now();
    for c in "seq 9".chars() {
        let _ = update(
            &mut m,
            Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
        );
    }
    let filter = t.elapsed();
    let _ = writeln!(
        out,
        "update(filter keystroke): {:.2} ms each over {} packets ({} match)",
        ms(filter) / 5.0,
        m.packets.len(),
        m.packets.matching()
    );
    let _ = update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );

    let keys = 2000;
    let t = Instant::now();
    for i in 0..keys {
        let code = if i % 2 == 0 {
            KeyCode::Up
        } else {
            KeyCode::Down
        };
        let _ = update(&mut m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
    let d = t.elapsed();
    let _ = writeln!(
        out,
        "update(arrow key in the packet list, journey recomputed): {:.0} msgs/s",
        per_sec(keys, d)
    );
    let n = 2000;
    let t = Instant::now();
    for i in 0..n {
        let _ = update(
            &mut m,
            Msg::Tables {
                node: node.clone(),
                tables: synthetic_tables(50, u8::try_from(i % 200).unwrap_or(0)),
            },
        );
    }
    let d = t.elapsed();
    let _ = writeln!(
        out,
        "update(Tables, 50 FDB rows diffed): {:.0} msgs/s",
        per_sec(n, d)
    );
    let t = Instant::now();
    for i in 0..n {
        let _ = update(
            &mut m,
            Msg::Tick(Duration::from_millis(u64::try_from(i).unwrap_or(0) * 10)),
        );
    }
    let d = t.elapsed();
    let _ = writeln!(out, "update(Tick): {:.0} msgs/s", per_sec(n, d));
    out
}
