//! The Tables pane: the selected node's links, addresses, routes, neighbours or FDB, as
//! the last netlink dump saw them, or its nftables rules, IPVS services or conntrack
//! table, as the last poll read them. Rows that just appeared are marked `+` (green),
//! changed `~` (yellow), removed `-` (red, struck out, kept a few seconds); marks fade.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::ui::decide::{Decision, decisions};
use crate::ui::diff::{LiveRow, Strength};
use crate::ui::model::{Focus, Model, Phase, Tab};
use crate::ui::rows::tab_labels;
use crate::ui::style::Theme;

/// Pads or cuts `s` to exactly `w` columns.
pub fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n > w {
        let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
        out.push('…');
        out
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

/// A row as one line: every column but the last fitted to its width, the last whole.
pub fn cells_line(cells: &[String], tab: Tab) -> String {
    let widths = tab.widths();
    let mut out = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i + 1 == cells.len() {
            out.push_str(c);
        } else {
            out.push_str(&fit(c, usize::from(widths.get(i).copied().unwrap_or(10))));
            out.push(' ');
        }
    }
    out
}

/// The `width` columns of `line` from column `from`, marked `…` where text is cut off on
/// either side.
fn window(line: &str, from: usize, width: usize) -> String {
    let n = line.chars().count();
    let mut out: String = line.chars().skip(from).take(width).collect();
    if from > 0 && !out.is_empty() {
        out.replace_range(..out.chars().next().map_or(0, char::len_utf8), "…");
    }
    if from + width < n {
        out.pop();
        out.push('…');
    }
    fit(&out, width)
}

/// Columns of the widest row of `tab` for `node` (the header included).
pub fn widest(m: &Model, node: &str, tab: Tab) -> usize {
    let header: Vec<String> = tab.headers().iter().map(|h| (*h).to_string()).collect();
    let rows = m.tables.get(node).map(|t| &t.tabs[tab.index()].rows);
    rows.into_iter()
        .flatten()
        .map(|r| cells_line(&r.row.cells, tab).chars().count())
        .chain(std::iter::once(cells_line(&header, tab).chars().count()))
        .max()
        .unwrap_or(0)
}

fn row_line(
    r: &LiveRow,
    tab: Tab,
    width: usize,
    m: &Model,
    theme: Theme,
    decided: bool,
) -> Line<'static> {
    let strength = r.strength(m.now);
    let (marker, style) = match r.mark {
        _ if decided => ('▶', theme.hop()),
        Some((change, _)) if strength != Strength::None => {
            (change.marker(), theme.change(change, strength))
        }
        _ => (' ', Style::new()),
    };
    let text = window(
        &cells_line(&r.row.cells, tab),
        m.table_hscroll,
        width.saturating_sub(2),
    );
    if style == Style::new() && tab == Tab::Neighbours {
        // Colour the state column alone.
        let state = r.row.cells.get(3).cloned().unwrap_or_default();
        if let Some(at) = text.rfind(state.as_str()).filter(|_| !state.is_empty()) {
            let (a, b) = text.split_at(at);
            return Line::from(vec![
                Span::raw(format!("{marker} {a}")),
                Span::styled(b.to_string(), theme.neigh_state(&state)),
            ]);
        }
    }
    Line::from(Span::styled(format!("{marker} {text}"), style))
}

/// Draws the pane.
pub fn render(f: &mut Frame, area: Rect, m: &Model, theme: Theme) {
    let node = m.node();
    let title = node.map_or(" Tables ".to_string(), |n| {
        format!(" Tables — {} ({}) ", n.id, n.netns)
    });
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()))
        .border_style(theme.border(m.focus == Focus::Tables));
    let visible = usize::from(area.width.saturating_sub(4));
    let wide = node.map_or(0, |n| widest(m, &n.id, m.tab));
    if wide > visible {
        let from = m.table_hscroll + 1;
        let to = (m.table_hscroll + visible).min(wide);
        block = block.title_bottom(
            Line::from(vec![
                Span::styled(" </>", theme.key()),
                Span::raw(format!(" columns {from}-{to} of {wide} ")),
            ])
            .right_aligned(),
        );
    }
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let decided: Vec<Decision> = decisions(m)
        .into_iter()
        .filter(|d| d.key.is_some() && node.is_some_and(|n| n.id == d.node))
        .collect();
    let tabs: Vec<Span> = tab_labels(inner.width)
        .into_iter()
        .map(|(t, label)| {
            let style = match (t == m.tab, decided.iter().any(|d| d.tab == t)) {
                (true, true) => theme.hop().add_modifier(Modifier::REVERSED),
                (true, false) => theme.selected(),
                (false, true) => theme.hop(),
                (false, false) => theme.dim(),
            };
            Span::styled(label, style)
        })
        .collect();
    f.render_widget(
        Line::from(tabs),
        Rect::new(inner.x, inner.y, inner.width, 1),
    );
    let width = usize::from(inner.width);
    let headers: Vec<String> = m.tab.headers().iter().map(|h| (*h).to_string()).collect();
    let head = window(
        &cells_line(&headers, m.tab),
        m.table_hscroll,
        width.saturating_sub(2),
    );
    f.render_widget(
        Paragraph::new(Span::styled(format!("  {head}"), theme.title())),
        Rect::new(inner.x, inner.y + 1, inner.width, 1),
    );
    let body = Rect::new(inner.x, inner.y + 2, inner.width, inner.height - 2);
    let Some(node) = node else {
        return;
    };
    let polled = m.tab.polled();
    let Some(t) = m
        .tables
        .get(&node.id)
        .filter(|t| if polled { t.polls > 0 } else { t.dumps > 0 })
    else {
        let error = m
            .tables
            .get(&node.id)
            .and_then(|t| t.error.as_ref())
            .filter(|_| !polled);
        let why = match (&m.phase, error) {
            (_, Some(e)) => format!("cannot read the tables: {e}"),
            (Phase::Building(_), _) => "namespace not created yet".to_string(),
            (Phase::Failed(_), _) => "the lab is not up".to_string(),
            _ if polled => "waiting for the first poll…".to_string(),
            _ => "waiting for the first dump…".to_string(),
        };
        f.render_widget(Paragraph::new(Span::styled(why, theme.dim())), body);
        return;
    };
    let rows = &t.tabs[m.tab.index()].rows;
    // The selected link's interfaces in this node, on the links tab.
    let link_ifaces: Vec<&str> = m
        .link
        .and_then(|l| m.topo.links.get(l))
        .filter(|_| m.tab == Tab::Links)
        .map(|l| {
            l.ends
                .iter()
                .filter(|(n, _)| m.topo.nodes[*n].id == node.id)
                .map(|(_, i)| i.as_str())
                .collect()
        })
        .unwrap_or_default();
    let error = t.poll_errors.get(&m.tab).map(|e| {
        let e = e.lines().next().unwrap_or_default();
        Line::from(Span::styled(format!("cannot read: {e}"), theme.dim()))
    });
    let body_rows = usize::from(body.height).saturating_sub(usize::from(error.is_some()));
    let mut lines: Vec<Line> = error.into_iter().collect();
    if rows.is_empty() {
        if lines.is_empty() {
            lines.push(Line::from(Span::styled("(empty)", theme.dim())));
        }
    } else {
        lines.extend(
            rows.iter()
                .skip(m.table_scroll.min(rows.len().saturating_sub(body_rows)))
                .take(body_rows)
                .map(|r| {
                    let hit = decided
                        .iter()
                        .any(|d| d.tab == m.tab && d.key.as_ref() == Some(&r.row.key));
                    let line = row_line(r, m.tab, width, m, theme, hit);
                    if link_ifaces.contains(&r.row.key.as_str()) {
                        line.style(theme.selected())
                    } else {
                        line
                    }
                }),
        );
    }
    f.render_widget(Paragraph::new(lines), body);
}
