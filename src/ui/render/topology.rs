//! The Topology pane: a box per host holding its namespaces, each namespace with its
//! interfaces coloured by state (up, down, not created yet); the underlay and the VXLAN
//! tunnels below. The selected node is marked `▸` and reversed; the node of the hop being
//! walked is highlighted.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::ui::model::{Focus, Model};
use crate::ui::style::Theme;
use crate::ui::topology::{NodeSpot, geometry};

/// Draws the pane.
pub fn render(f: &mut Frame, area: Rect, m: &Model, theme: Theme) {
    let title = format!(" Topology — {} ", m.lab.name);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()))
        .border_style(theme.border(m.focus == Focus::Topology));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let geo = geometry(&m.topo, inner);
    for (host, rect) in m.topo.hosts.iter().zip(&geo.boxes) {
        let mut title = format!(" {} ", host.name);
        if let Some(u) = &host.underlay {
            title.push_str(u);
            title.push(' ');
        }
        f.render_widget(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .border_style(theme.dim()),
            *rect,
        );
    }
    for spot in &geo.spots {
        node(f, spot, m, theme);
    }
    let first = geo.footer.y + u16::from(m.topo.underlay.is_some());
    for (row, tunnel) in (first..geo.footer.bottom()).zip(&m.topo.tunnels) {
        let line = Rect::new(geo.footer.x, row, geo.footer.width, 1);
        f.render_widget(
            Paragraph::new(Span::styled(tunnel.as_str(), theme.dim())),
            line,
        );
    }
}

fn node(f: &mut Frame, spot: &NodeSpot, m: &Model, theme: Theme) {
    let view = &m.topo.nodes[spot.node];
    let selected = spot.node == m.selected;
    let hop = m.hop_node() == Some(spot.node);
    let hop_iface = m
        .journey
        .as_ref()
        .and_then(|j| j.current_hop())
        .filter(|_| hop)
        .map(|h| h.iface.as_str());
    let mut label_style = theme.title();
    if hop {
        label_style = theme.hop();
    } else if selected {
        label_style = theme.selected();
    }
    let marker = match (hop, selected) {
        (true, _) => "◆",
        (false, true) => "▸",
        (false, false) => " ",
    };
    let width = usize::from(spot.label_width.saturating_sub(1));
    let label = super::tables::fit(&view.label, width.saturating_sub(1));
    let links = m.tables.get(&view.id).map(|t| &t.links);
    for (li, chips) in spot.lines.iter().enumerate() {
        let row = spot.rect.y + u16::try_from(li).unwrap_or(0);
        let mut spans = Vec::new();
        if li == 0 {
            spans.push(Span::raw(marker));
            spans.push(Span::styled(format!("{label:<width$}"), label_style));
        } else {
            spans.push(Span::raw(" ".repeat(width + 1)));
        }
        for (ci, &i) in chips.iter().enumerate() {
            if ci > 0 {
                spans.push(Span::raw(" "));
            }
            let iface = &view.ifaces[i];
            let state = links.and_then(|l| l.get(&iface.name));
            let style = if hop_iface == Some(iface.name.as_str()) {
                theme.hop()
            } else {
                theme.link(state)
            };
            spans.push(Span::styled(iface.chip.as_str(), style));
        }
        f.render_widget(
            Line::from(spans),
            Rect::new(spot.rect.x, row, spot.rect.width, 1),
        );
    }
}
