//! Keyboard and mouse input: what each action of the binding table does to the model, in
//! the pane that has the focus, and what a click or the wheel does where it lands. Called
//! by [`update`](super::update) only; pure like it.

use std::net::IpAddr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use ratatui::widgets::{Block, Borders};

use super::decide::decisions;
use super::keys::{Action, lookup};
use super::layout::Areas;
use super::model::{CaptureState, Focus, JourneyState, Mode, Model, Phase, Prompt, Purpose, Tab};
use super::msg::Cmd;
use super::packets::Scope;
use super::render::journey::hop_at;
use super::render::tables::widest;
use super::rows::tab_at;
use super::topology::{Target, geometry};
use crate::decode::DecodeOptions;
use crate::trace::correlate;

/// Recomputes the journey after the packet selection changed.
fn follow_packet(m: &mut Model) {
    let Some(c) = m.packets.selected.and_then(|s| m.packets.get(s)) else {
        return;
    };
    let seq = c.seq;
    let Some(key) = c.key else {
        m.journey = None;
        return;
    };
    if let Some(j) = &mut m.journey
        && j.key == Some(key)
    {
        if let Some(hop) = hop_of(j, seq) {
            (j.which, j.hop) = hop;
        }
        return;
    }
    let title = c.summary.clone();
    let (frames, seqs) = m.packets.sightings(key);
    let journeys = correlate(
        &m.points,
        &frames,
        &m.wiring,
        &DecodeOptions::default(),
        None,
    );
    let mut j = JourneyState {
        title,
        journeys,
        seqs,
        which: 0,
        hop: 0,
        key: Some(key),
    };
    if let Some(hop) = hop_of(&j, seq) {
        (j.which, j.hop) = hop;
    }
    m.journey = Some(j);
}

fn hop_of(j: &JourneyState, seq: u64) -> Option<(usize, usize)> {
    let frame = j.seqs.iter().position(|&s| s == seq)?;
    j.journeys.iter().enumerate().find_map(|(w, jr)| {
        jr.hops
            .iter()
            .position(|h| h.frame == frame)
            .map(|h| (w, h))
    })
}

fn walk(m: &mut Model, forward: bool) {
    let Some(j) = &mut m.journey else {
        m.note = Some("no journey: select a packet, or press p to ping".into());
        return;
    };
    let hops = |w: usize| j.journeys.get(w).map_or(0, |x| x.hops.len());
    if forward {
        if j.hop + 1 < hops(j.which) {
            j.hop += 1;
        } else if j.which + 1 < j.journeys.len() {
            j.which += 1;
            j.hop = 0;
        }
    } else if j.hop > 0 {
        j.hop -= 1;
    } else if j.which > 0 {
        j.which -= 1;
        j.hop = hops(j.which).saturating_sub(1);
    }
    follow_hop(m);
}

/// Shows the hop being walked: its node selected, the tab of the row that decided it open
/// with that row in view.
pub(super) fn follow_hop(m: &mut Model) {
    let Some(i) = m.hop_node() else {
        return;
    };
    select_node(m, i);
    let Some(d) = decisions(m).into_iter().find(|d| d.key.is_some()) else {
        return;
    };
    set_tab(m, d.tab);
    let at = m
        .tables
        .get(&d.node)
        .and_then(|t| {
            t.tabs[d.tab.index()]
                .rows
                .iter()
                .position(|r| Some(&r.row.key) == d.key.as_ref())
        })
        .unwrap_or(0);
    show_table_row(m, at);
}

/// Scrolls the Tables pane so row `at` is a third of the way down.
fn show_table_row(m: &mut Model, at: usize) {
    let rows = Areas::new(m).table_rows();
    m.table_scroll = 0;
    scroll_table(m, isize::try_from(at.saturating_sub(rows / 3)).unwrap_or(0));
}

fn select_node(m: &mut Model, i: usize) {
    if m.link.take().is_some() {
        m.packets.set_scope(None, &m.points);
    }
    if i < m.topo.nodes.len() && i != m.selected {
        m.selected = i;
        m.table_scroll = 0;
        m.table_hscroll = 0;
    }
}

/// Selects link `l`: the tables show its first end's interfaces, the packet list only what
/// crossed its ends.
fn select_link(m: &mut Model, l: usize) {
    let Some(link) = m.topo.links.get(l) else {
        return;
    };
    let Some((node, iface)) = link.ends.first().cloned() else {
        return;
    };
    let scope = Scope {
        name: link.label.clone(),
        ends: link
            .ends
            .iter()
            .map(|(n, i)| (m.topo.nodes[*n].id.clone(), i.clone()))
            .collect(),
    };
    m.note = Some(format!(
        "link {}: {} ({})",
        link.label,
        link.ends_text(&m.topo),
        link.detail
    ));
    select_node(m, node);
    m.link = Some(l);
    m.packets.set_scope(Some(scope), &m.points);
    set_tab(m, Tab::Links);
    let id = &m.topo.nodes[node].id;
    let at = m
        .tables
        .get(id)
        .and_then(|t| {
            t.tabs[Tab::Links.index()]
                .rows
                .iter()
                .position(|r| r.row.key == iface)
        })
        .unwrap_or(0);
    show_table_row(m, at);
}

fn move_link(m: &mut Model, forward: bool) {
    let n = m.topo.links.len();
    if n == 0 {
        return;
    }
    let next = match (m.link, forward) {
        (None, true) => m.topo.links_of(m.selected).next().unwrap_or(0),
        (None, false) => m.topo.links_of(m.selected).last().unwrap_or(n - 1),
        (Some(l), true) => (l + 1) % n,
        (Some(l), false) => (l + n - 1) % n,
    };
    m.focus = Focus::Topology;
    select_link(m, next);
}

/// Moves the selection `delta` nodes down the topology, in drawing order.
fn move_node(m: &mut Model, delta: isize) {
    let order = &m.topo.order;
    let Some(at) = order.iter().position(|&n| n == m.selected) else {
        if let Some(&first) = order.first() {
            select_node(m, first);
        }
        return;
    };
    let to = at.saturating_add_signed(delta).min(order.len() - 1);
    select_node(m, order[to]);
}

fn move_host(m: &mut Model, right: bool) {
    let Some((h, pos)) = m.topo.host_of_node(m.selected) else {
        return;
    };
    let target = if right { h + 1 } else { h.wrapping_sub(1) };
    if let Some(host) = m.topo.hosts.get(target) {
        let i = host.nodes[pos.min(host.nodes.len() - 1)];
        select_node(m, i);
    }
}

fn table_len(m: &Model) -> usize {
    m.node()
        .and_then(|n| m.tables.get(&n.id))
        .map_or(0, |t| t.tabs[m.tab.index()].rows.len())
}

fn scroll_table(m: &mut Model, delta: isize) {
    let max = table_len(m).saturating_sub(Areas::new(m).table_rows());
    m.table_scroll = m.table_scroll.saturating_add_signed(delta).min(max);
}

fn move_packet(m: &mut Model, delta: isize) {
    let rows = Areas::new(m).packet_rows();
    m.packets.move_selection(delta, rows);
    follow_packet(m);
}

fn set_tab(m: &mut Model, tab: Tab) {
    m.tab = tab;
    m.table_scroll = 0;
    m.table_hscroll = 0;
}

/// Scrolls the Tables pane sideways by a third of its width, no further than the widest
/// row needs.
fn side_scroll(m: &mut Model, right: bool) {
    let Some(node) = m.node().map(|n| n.id.clone()) else {
        return;
    };
    let visible = usize::from(Areas::new(m).tables.width.saturating_sub(4));
    let max = widest(m, &node, m.tab).saturating_sub(visible);
    let step = (visible / 3).max(1);
    m.table_hscroll = if right {
        (m.table_hscroll + step).min(max)
    } else {
        m.table_hscroll.saturating_sub(step)
    };
}

pub(super) fn key(m: &mut Model, ev: &KeyEvent) -> Vec<Cmd> {
    let stepping = m.stepping();
    match &mut m.mode {
        Mode::Prompt(p) => {
            let purpose = p.purpose;
            return prompt_key(purpose, m, ev);
        }
        _ if is_ctrl_c(ev) => return vec![Cmd::Quit],
        Mode::Help => {
            m.mode = Mode::Normal;
            return Vec::new();
        }
        Mode::Detail { scroll, .. } => {
            match lookup(ev, false) {
                Some(Action::Up) => *scroll = scroll.saturating_sub(1),
                Some(Action::Down) => *scroll = scroll.saturating_add(1),
                Some(Action::PageUp) => *scroll = scroll.saturating_sub(10),
                Some(Action::PageDown) => *scroll = scroll.saturating_add(10),
                _ => m.mode = Mode::Normal,
            }
            return Vec::new();
        }
        Mode::Normal => {}
    }
    let Some(action) = lookup(ev, stepping) else {
        return Vec::new();
    };
    act(m, action, ev)
}

fn is_ctrl_c(ev: &KeyEvent) -> bool {
    ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL)
}

fn prompt_key(purpose: Purpose, m: &mut Model, ev: &KeyEvent) -> Vec<Cmd> {
    if is_ctrl_c(ev) {
        return vec![Cmd::Quit];
    }
    let Mode::Prompt(p) = &mut m.mode else {
        return Vec::new();
    };
    match ev.code {
        KeyCode::Char(c) => p.text.push(c),
        KeyCode::Backspace => {
            p.text.pop();
        }
        KeyCode::Esc => {
            if purpose == Purpose::Filter {
                m.packets.set_filter("", &m.points);
            }
            m.mode = Mode::Normal;
            return Vec::new();
        }
        KeyCode::Enter => {
            let text = p.text.trim().to_string();
            m.mode = Mode::Normal;
            return match purpose {
                Purpose::Filter => Vec::new(),
                Purpose::Ping => ping(m, &text),
            };
        }
        _ => return Vec::new(),
    }
    if purpose == Purpose::Filter {
        let text = p.text.clone();
        m.packets.set_filter(&text, &m.points);
    }
    Vec::new()
}

fn ping(m: &mut Model, text: &str) -> Vec<Cmd> {
    let Ok(target) = text.parse::<IpAddr>() else {
        m.note = Some(format!("not an IP address: `{text}`"));
        return Vec::new();
    };
    let Some(n) = m.node() else {
        return Vec::new();
    };
    let (node, netns) = (n.id.clone(), n.netns.clone());
    m.pinging = Some(target.to_string());
    m.note = Some(format!("pinging {target} from {node}…"));
    vec![Cmd::Ping {
        node,
        netns,
        target,
        since: m.packets.next_seq(),
    }]
}

fn act(m: &mut Model, action: Action, ev: &KeyEvent) -> Vec<Cmd> {
    let page = Areas::new(m).packet_rows().max(1);
    let page = isize::try_from(page).unwrap_or(10);
    match action {
        Action::Step => {
            if let Phase::Building(b) = &mut m.phase {
                b.running = Some(b.done);
                return vec![Cmd::Step];
            }
        }
        Action::Quit => return vec![Cmd::Quit],
        Action::Help => m.mode = Mode::Help,
        Action::FocusNext => m.focus = m.focus.cycle(false),
        Action::FocusPrev => m.focus = m.focus.cycle(true),
        Action::Up | Action::Down => {
            let d = if action == Action::Up { -1 } else { 1 };
            match m.focus {
                Focus::Topology => move_node(m, d),
                Focus::Tables => scroll_table(m, d),
                Focus::Packets => move_packet(m, d),
                Focus::Journey => walk(m, d > 0),
            }
        }
        Action::Left | Action::Right => {
            let right = action == Action::Right;
            match m.focus {
                Focus::Topology => move_host(m, right),
                Focus::Tables => set_tab(
                    m,
                    Tab::nth(m.tab.index() + if right { 1 } else { Tab::ALL.len() - 1 }),
                ),
                Focus::Journey => walk(m, right),
                Focus::Packets => {}
            }
        }
        Action::PageUp | Action::PageDown => {
            let d = if action == Action::PageUp {
                -page
            } else {
                page
            };
            match m.focus {
                Focus::Tables => scroll_table(m, d),
                _ => move_packet(m, d),
            }
        }
        Action::Top => {
            if m.focus == Focus::Tables {
                m.table_scroll = 0;
            } else {
                let rows = Areas::new(m).packet_rows();
                m.packets.select_first(rows);
                follow_packet(m);
            }
        }
        Action::Bottom => match m.focus {
            Focus::Tables => scroll_table(m, isize::MAX),
            _ => m.packets.follow(),
        },
        Action::TabNumber => {
            if let KeyCode::Char(c) = ev.code
                && let Some(d) = c.to_digit(10).and_then(|d| usize::try_from(d).ok())
            {
                set_tab(m, Tab::nth(d.saturating_sub(1)));
            }
        }
        Action::NextTab => set_tab(m, Tab::nth(m.tab.index() + 1)),
        Action::NextLink | Action::PrevLink => move_link(m, action == Action::NextLink),
        Action::SideLeft | Action::SideRight => side_scroll(m, action == Action::SideRight),
        Action::Open => {
            if m.packets.selected.is_none() {
                m.packets.move_selection(-1, Areas::new(m).packet_rows());
                follow_packet(m);
            }
            if let Some(seq) = m.packets.selected {
                m.mode = Mode::Detail { seq, scroll: 0 };
            }
        }
        Action::Back => {
            if m.link.take().is_some() {
                m.packets.set_scope(None, &m.points);
            }
            m.packets.follow();
            m.journey = None;
            m.note = None;
        }
        Action::Filter => {
            m.mode = Mode::Prompt(Prompt {
                purpose: Purpose::Filter,
                text: m.packets.filter().to_string(),
            });
        }
        Action::Pause => m.packets.toggle_pause(),
        Action::Clear => {
            m.packets.clear();
            m.journey = None;
        }
        Action::Ping => {
            if matches!(m.capture, CaptureState::Running { .. }) {
                m.mode = Mode::Prompt(Prompt {
                    purpose: Purpose::Ping,
                    text: String::new(),
                });
            } else {
                m.note =
                    Some("the lab is not up and captured yet; wait for the build to finish".into());
            }
        }
        Action::NextHop => walk(m, true),
        Action::PrevHop => walk(m, false),
    }
    Vec::new()
}

fn inner(r: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(r)
}

pub(super) fn mouse(m: &mut Model, ev: MouseEvent) {
    let pos = Position::new(ev.column, ev.row);
    let a = Areas::new(m);
    let scroll = match ev.kind {
        MouseEventKind::ScrollUp => -3,
        MouseEventKind::ScrollDown => 3,
        MouseEventKind::Down(MouseButton::Left) => 0,
        _ => return,
    };
    m.dirty = true;
    if m.mode != Mode::Normal {
        if scroll == 0 && !matches!(m.mode, Mode::Prompt(_)) {
            m.mode = Mode::Normal;
        }
        return;
    }
    if a.packets.contains(pos) {
        if scroll != 0 {
            move_packet(m, scroll);
            return;
        }
        m.focus = Focus::Packets;
        if let Some(row) = ev.row.checked_sub(a.packet_list_top()) {
            m.packets.click(usize::from(row), a.packet_rows());
            follow_packet(m);
        }
    } else if a.tables.contains(pos) {
        if scroll != 0 {
            scroll_table(m, scroll);
            return;
        }
        m.focus = Focus::Tables;
        let i = inner(a.tables);
        if ev.row == i.y
            && let Some(t) = tab_at(ev.column.saturating_sub(i.x), i.width)
        {
            set_tab(m, t);
        }
    } else if a.topology.contains(pos) {
        m.focus = Focus::Topology;
        match geometry(&m.topo, inner(a.topology), m.target()).hit(ev.column, ev.row) {
            Some(Target::Node(n)) => select_node(m, n),
            Some(Target::Link(l)) => select_link(m, l),
            None => {}
        }
    } else if a.journey.contains(pos) {
        m.focus = Focus::Journey;
        if let Some(hop) = hop_at(m, a.journey, ev.row)
            && let Some(j) = &mut m.journey
        {
            j.hop = hop;
            follow_hop(m);
        }
    }
}
