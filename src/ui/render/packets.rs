//! The Packets pane: the newest captured frames (or the page around the selected one):
//! time since the first frame, where it was seen, and its summary.

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::tables::fit;
use crate::ui::model::{Focus, Model};
use crate::ui::packets::Captured;
use crate::ui::style::Theme;

const POINT_WIDTH: usize = 28;

/// `12.345678`: seconds since `t0`.
pub fn seconds(ts_ns: u64, t0: u64) -> String {
    let d = ts_ns.saturating_sub(t0);
    format!("{}.{:06}", d / 1_000_000_000, (d % 1_000_000_000) / 1000)
}

/// The list's line for frame `c`, `width` columns wide.
pub fn line_text(m: &Model, c: &Captured, width: usize) -> String {
    let t = seconds(c.frame.ts_ns, m.packets.t0.unwrap_or(0));
    let point = m
        .points
        .get(c.frame.point)
        .map_or_else(|| format!("point {}", c.frame.point), ToString::to_string);
    let head = format!("{t:>10} {} ", fit(&point, POINT_WIDTH));
    let rest = width.saturating_sub(head.chars().count());
    format!("{head}{}", fit(&c.summary, rest))
}

fn title(m: &Model) -> String {
    let p = &m.packets;
    let mut t = format!(" Packets — {}", p.len());
    if let Some(s) = p.scope() {
        let _ = write!(t, ", {} on link {}", p.matching(), s.name);
    }
    if !p.filter().is_empty() {
        let _ = write!(t, ", {} match /{}/", p.matching(), p.filter());
    }
    if p.evicted > 0 {
        let _ = write!(t, ", {} evicted", p.evicted);
    }
    if p.paused_at.is_some() {
        let _ = write!(t, " — PAUSED (+{} new)", p.held());
    } else if p.selected.is_some() {
        t.push_str(" — holding (End: follow)");
    }
    t.push(' ');
    t
}

/// Draws the pane; `rows` is how many frames fit.
pub fn render(f: &mut Frame, area: Rect, m: &Model, theme: Theme, rows: usize) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title(m), theme.title()))
        .border_style(theme.border(m.focus == Focus::Packets));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let width = usize::from(inner.width);
    let head = format!(
        "{:>10} {} summary",
        "time (s)",
        fit("node:interface dir", POINT_WIDTH)
    );
    f.render_widget(
        Paragraph::new(Span::styled(head, theme.title())),
        Rect::new(inner.x, inner.y, inner.width, 1),
    );
    let hop_seq = m
        .journey
        .as_ref()
        .and_then(|j| j.current_hop().and_then(|h| j.seqs.get(h.frame)).copied());
    let window = m.packets.window(rows);
    let lines: Vec<Line> = if window.is_empty() {
        let why = match &m.capture {
            crate::ui::model::CaptureState::Running { .. } if !m.packets.filter().is_empty() => {
                "no packet matches the filter (/ to change it, Esc in the prompt to clear)"
            }
            crate::ui::model::CaptureState::Running { .. } => "no packet yet (try p to ping)",
            crate::ui::model::CaptureState::Failed(_) => "capture failed (see the status line)",
            _ => "capture starts once the lab is up",
        };
        vec![Line::from(Span::styled(why, theme.dim()))]
    } else {
        window
            .iter()
            .map(|c| {
                let style = if Some(c.seq) == m.packets.selected {
                    theme.selected()
                } else if Some(c.seq) == hop_seq {
                    theme.hop()
                } else {
                    Style::new()
                };
                Line::from(Span::styled(line_text(m, c, width), style))
            })
            .collect()
    };
    let body = Rect::new(inner.x, inner.y + 1, inner.width, inner.height - 1);
    f.render_widget(Paragraph::new(lines), body);
}
