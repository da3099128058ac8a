//! The Topology pane: a box per host holding its namespaces as a tree of veth links, the
//! hosts' wires to the underlay switch's bus, and the VXLAN tunnels between VTEPs below.
//! Links are coloured by state (green up, red and `✗` down, dim not there yet); the
//! selected node or link is marked and reversed; the node of the hop being walked is
//! highlighted and marked `◆`. Where everything goes is [`crate::ui::topology::layout`].

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use crate::ui::model::{Focus, Model};
use crate::ui::style::Theme;
use crate::ui::topology::layout::{Piece, Role};
use crate::ui::topology::{LinkKind, Target, geometry};

/// How a link stands: every end up, some end down, or not all there (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Every end exists and is up.
    Up,
    /// Some end is down.
    Down,
    /// Some end is not there (not created yet, or its node not read).
    Unknown,
}

/// The state of link `l` from the nodes' last dumps.
pub fn link_state(m: &Model, l: usize) -> LinkState {
    let link = &m.topo.links[l];
    let mut state = LinkState::Up;
    for (n, iface) in &link.ends {
        let id = &m.topo.nodes[*n].id;
        match m.tables.get(id).and_then(|t| t.links.get(iface)) {
            None => return LinkState::Unknown,
            Some((up, s)) if !up || s == "DOWN" || s == "LOWERLAYERDOWN" => {
                state = LinkState::Down;
            }
            Some(_) => {}
        }
    }
    state
}

fn link_style(m: &Model, l: usize, theme: Theme) -> Style {
    let st = match link_state(m, l) {
        LinkState::Up => Some((true, "UP".to_string())),
        LinkState::Down => Some((false, "DOWN".to_string())),
        LinkState::Unknown => None,
    };
    theme.link(st.as_ref())
}

/// Draws the pane.
pub fn render(f: &mut Frame, area: Rect, m: &Model, theme: Theme) {
    let title = format!(" Topology — {} ", m.lab.name);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()))
        .border_style(theme.border(m.focus == Focus::Topology));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let geo = geometry(&m.topo, inner, m.target());
    for (host, b) in m.topo.hosts.iter().zip(&geo.boxes) {
        let mut title = format!(" {} ", host.name);
        if let Some(u) = &host.underlay {
            title.push_str(u);
            title.push(' ');
        }
        let mut block = Block::default()
            .borders(Borders::ALL)
            .title(title)
            .border_style(theme.dim());
        if b.compact {
            block = block.title_top(Line::from(" packed ").right_aligned());
        }
        if b.hidden.0 > 0 {
            block = block.title_top(Line::from(format!(" ↑{} ", b.hidden.0)).right_aligned());
        }
        if b.hidden.1 > 0 {
            block = block.title_bottom(Line::from(format!(" ↓{} more ", b.hidden.1)));
        }
        f.render_widget(block, b.rect);
    }
    let hop = m.hop_node();
    let hop_iface = m
        .journey
        .as_ref()
        .and_then(|j| j.current_hop())
        .map(|h| h.iface.as_str());
    for p in &geo.pieces {
        piece(f, p, m, theme, hop, hop_iface);
    }
}

fn piece(
    f: &mut Frame,
    p: &Piece,
    m: &Model,
    theme: Theme,
    hop: Option<usize>,
    hop_iface: Option<&str>,
) {
    let selected = m.target();
    let buf = f.buffer_mut();
    let area = buf.area;
    if p.y >= area.bottom() || p.x >= area.right() {
        return;
    }
    let (text, style) = match &p.role {
        Role::Guide | Role::Bus => (p.text.clone(), theme.dim()),
        Role::Node(n) | Role::NodeRef(n) => {
            let style = if hop == Some(*n) {
                theme.hop()
            } else if selected == Some(Target::Node(*n)) {
                theme.selected()
            } else if matches!(p.role, Role::NodeRef(_)) {
                theme.dim()
            } else {
                theme.title()
            };
            let marker = match (hop == Some(*n), selected == Some(Target::Node(*n))) {
                (true, _) => Some(("◆", theme.hop())),
                (false, true) => Some(("▸", theme.selected())),
                (false, false) => None,
            };
            if let Some((mark, style)) = marker
                && p.x > area.x
                && matches!(p.role, Role::Node(_))
            {
                buf.set_string(p.x - 1, p.y, mark, style);
            }
            (p.text.clone(), style)
        }
        Role::Link(l) => {
            let state = link_state(m, *l);
            let mut text = p.text.clone();
            if state == LinkState::Down && m.topo.links[*l].kind != LinkKind::Tunnel {
                text = text.replacen('═', "✗", 1).replacen('─', "✗", 1);
            }
            let on_hop = hop.is_some_and(|h| {
                m.topo.links[*l]
                    .ends
                    .iter()
                    .any(|(n, i)| *n == h && Some(i.as_str()) == hop_iface)
            });
            let style = if selected == Some(Target::Link(*l)) {
                theme.selected()
            } else if on_hop {
                theme.hop()
            } else {
                link_style(m, *l, theme)
            };
            (text, style)
        }
        Role::Bridge(n, name) | Role::Vtep(n, name) => {
            let id = &m.topo.nodes[*n].id;
            let state = m.tables.get(id).and_then(|t| t.links.get(name));
            let style = if hop == Some(*n) && hop_iface == Some(name.as_str()) {
                theme.hop()
            } else {
                theme.link(state)
            };
            (p.text.clone(), style)
        }
    };
    let room = usize::from(area.right() - p.x);
    let text: String = text.chars().take(room).collect();
    buf.set_string(p.x, p.y, text, style);
}
