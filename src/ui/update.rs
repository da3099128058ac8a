//! [`update`]: the panel's only state transition, a pure function of the model and one
//! message, returning the side effects to run.

use std::net::IpAddr;
use std::time::Duration;

use crossterm::event::KeyEventKind;

use super::exercise::ExerciseView;
use super::input::{follow_hop, key, mouse};
use super::model::{CaptureState, Focus, JourneyState, Model, NodeTables, Phase, Tab};
use super::msg::{Cmd, Msg};
use super::netfilter::Polled;
use super::rows::{polled_rows, rows};
use crate::decode::DecodeOptions;
use crate::doctor::NodeState;
use crate::observe::Tables;
use crate::trace::correlate;

/// The effects to start with: build the lab, or watch it and capture if it is up.
pub fn init(m: &mut Model) -> Vec<Cmd> {
    match &m.phase {
        Phase::Building(b) => vec![Cmd::Build {
            stepwise: b.stepwise,
        }],
        Phase::Attached | Phase::Built => {
            let mut cmds = watch_all(m);
            m.capture = CaptureState::Starting;
            cmds.push(Cmd::StartCapture);
            cmds.extend(follow_selection(m));
            cmds.extend(watch_exercises(m));
            cmds
        }
        Phase::Failed(_) => Vec::new(),
    }
}

/// Polls the selected node's netfilter state once the lab is up, if it is not polled yet.
fn follow_selection(m: &mut Model) -> Option<Cmd> {
    if !matches!(m.phase, Phase::Attached | Phase::Built) {
        return None;
    }
    let n = m.node()?;
    if m.polling.as_deref() == Some(n.id.as_str()) {
        return None;
    }
    let cmd = Cmd::Poll {
        node: n.id.clone(),
        netns: n.netns.clone(),
    };
    m.polling = Some(n.id.clone());
    Some(cmd)
}

/// Follows the exercises, if the lab has any.
fn watch_exercises(m: &Model) -> Option<Cmd> {
    (!m.lab.exercises.is_empty()).then_some(Cmd::WatchExercises)
}

fn watch_all(m: &mut Model) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    for n in &m.topo.nodes {
        if m.watched.insert(n.id.clone()) {
            cmds.push(Cmd::Watch {
                node: n.id.clone(),
                netns: n.netns.clone(),
            });
        }
    }
    cmds
}

/// Applies `msg` to the model and returns the effects it asks for.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Cmd> {
    let mut cmds = apply(m, msg);
    if !cmds.contains(&Cmd::Quit) {
        cmds.extend(follow_selection(m));
    }
    cmds
}

fn apply(m: &mut Model, msg: Msg) -> Vec<Cmd> {
    match msg {
        Msg::Key(ev) => {
            if ev.kind == KeyEventKind::Release {
                return Vec::new();
            }
            m.dirty = true;
            key(m, &ev)
        }
        Msg::Mouse(ev) => {
            mouse(m, ev);
            Vec::new()
        }
        Msg::Resize(w, h) => {
            m.size = (w, h);
            m.dirty = true;
            Vec::new()
        }
        Msg::Tick(now) => {
            tick(m, now);
            Vec::new()
        }
        Msg::Tables { node, tables } => {
            take_tables(m, &node, tables);
            Vec::new()
        }
        Msg::TablesFailed { node, error } => {
            m.tables.entry(node).or_default().error = Some(error);
            m.dirty = true;
            Vec::new()
        }
        Msg::Polled { node, polled } => {
            take_polled(m, &node, polled);
            Vec::new()
        }
        Msg::CaptureStarted { points, failed } => {
            m.points = points;
            m.capture = CaptureState::Running { failed, dropped: 0 };
            m.dirty = true;
            Vec::new()
        }
        Msg::CaptureDrops(n) => {
            if let CaptureState::Running { dropped, .. } = &mut m.capture {
                m.dirty |= *dropped != n;
                *dropped = n;
            }
            Vec::new()
        }
        Msg::CaptureFailed(e) => {
            m.capture = CaptureState::Failed(e);
            m.dirty = true;
            Vec::new()
        }
        Msg::Frames(frames) => {
            m.packets.push(frames, &m.points);
            m.dirty = true;
            Vec::new()
        }
        Msg::BuildStep { step, .. } => {
            if let Phase::Building(b) = &mut m.phase {
                b.running = Some(step - 1);
            }
            m.dirty = true;
            Vec::new()
        }
        Msg::OpDone { step } => op_done(m, step),
        Msg::BuildDone(result) => build_done(m, result),
        Msg::PingDone {
            node,
            target,
            since,
            result,
        } => {
            ping_done(m, &node, target, since, &result);
            Vec::new()
        }
        Msg::Exercise(p) => {
            m.exercise = ExerciseView::of(&m.lab, &p);
            m.dirty = true;
            Vec::new()
        }
        Msg::Quit => vec![Cmd::Quit],
    }
}

fn tick(m: &mut Model, now: Duration) {
    let before = m.now;
    m.now = now;
    for t in m.tables.values_mut() {
        for tab in &mut t.tabs {
            if tab.fades_between(before, now) {
                m.dirty = true;
            }
            tab.expire(now);
        }
    }
}

fn take_tables(m: &mut Model, node: &str, tables: Tables) {
    let now = m.now;
    let t: &mut NodeTables = m.tables.entry(node.to_string()).or_default();
    let first = t.dumps == 0;
    for tab in Tab::WATCHED {
        t.tabs[tab.index()].merge(rows(&tables, tab), now, first);
    }
    t.dumps += 1;
    t.error = None;
    t.links = tables
        .links
        .iter()
        .map(|l| (l.name.clone(), (l.up, l.state.clone())))
        .collect();
    let netns = m
        .topo
        .index(node)
        .map(|i| m.topo.nodes[i].netns.clone())
        .unwrap_or_default();
    t.state = NodeState::from_tables(node, &netns, tables);
    m.dirty = true;
}

fn take_polled(m: &mut Model, node: &str, p: Box<Polled>) {
    let now = m.now;
    let t: &mut NodeTables = m.tables.entry(node.to_string()).or_default();
    let first = t.polls == 0;
    for tab in Tab::ALL {
        match polled_rows(&p, tab) {
            Some(Ok(rows)) => {
                t.tabs[tab.index()].merge_volatile(rows, now, first, tab.volatile());
                t.poll_errors.remove(&tab);
            }
            Some(Err(e)) => {
                t.poll_errors.insert(tab, e);
            }
            None => {}
        }
    }
    t.polls += 1;
    t.polled = Some(p);
    m.dirty = true;
}

fn op_done(m: &mut Model, step: usize) -> Vec<Cmd> {
    m.dirty = true;
    let Phase::Building(b) = &mut m.phase else {
        return Vec::new();
    };
    b.done = step;
    b.running = None;
    let Some(Some(netns)) = b.creates.get(step - 1) else {
        return Vec::new();
    };
    let Some(node) = m.topo.nodes.iter().find(|n| &n.netns == netns) else {
        return Vec::new();
    };
    if m.watched.insert(node.id.clone()) {
        return vec![Cmd::Watch {
            node: node.id.clone(),
            netns: netns.clone(),
        }];
    }
    Vec::new()
}

fn build_done(m: &mut Model, result: Result<(), String>) -> Vec<Cmd> {
    m.dirty = true;
    match result {
        Ok(()) => {
            m.phase = Phase::Built;
            m.note = Some(format!("lab {} is up", m.lab.name));
            let mut cmds = watch_all(m);
            m.capture = CaptureState::Starting;
            cmds.push(Cmd::StartCapture);
            cmds.extend(watch_exercises(m));
            cmds
        }
        Err(e) => {
            m.note = Some(e.lines().next().unwrap_or_default().to_string());
            m.phase = Phase::Failed(e);
            Vec::new()
        }
    }
}

fn ping_done(m: &mut Model, node: &str, target: IpAddr, since: u64, result: &Result<(), String>) {
    m.pinging = None;
    m.dirty = true;
    let (frames, seqs) = m.packets.involving(since, target);
    let journeys = correlate(
        &m.points,
        &frames,
        &m.wiring,
        &DecodeOptions::default(),
        Some(node),
    );
    let outcome = match result {
        Ok(()) => "reply received".to_string(),
        Err(e) => e.clone(),
    };
    m.note = Some(format!(
        "ping {target} from {node}: {outcome}; {} journeys",
        journeys.len()
    ));
    if journeys.is_empty() {
        return;
    }
    m.journey = Some(JourneyState {
        title: format!("ping {target} from {node}"),
        journeys,
        seqs,
        which: 0,
        hop: 0,
        key: None,
    });
    m.focus = Focus::Journey;
    follow_hop(m);
}
