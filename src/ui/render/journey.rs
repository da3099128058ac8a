//! The Journey pane: the selected packet's (or the last ping's) path hop by hop, with what
//! changed at each hop, the hop being walked highlighted. While the lab is being built it
//! shows the build plan instead, command by command.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::exercise::wrap_words;
use super::tables::fit;
use crate::ui::decide::decisions;
use crate::ui::model::{Build, Focus, Model};
use crate::ui::style::Theme;

fn plan(f: &mut Frame, area: Rect, m: &Model, b: &Build, theme: Theme) {
    let title = if b.stepwise {
        format!(
            " Build plan — step {} of {} (s/Enter: apply the next) ",
            b.done,
            b.commands.len()
        )
    } else {
        format!(" Build plan — {} of {} applied ", b.done, b.commands.len())
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()))
        .border_style(theme.border(m.focus == Focus::Journey));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let current = b.running.unwrap_or(b.done);
    let h = usize::from(inner.height);
    let start = current
        .saturating_sub(h / 2)
        .min(b.commands.len().saturating_sub(h));
    let width = usize::from(inner.width);
    let lines: Vec<Line> = b
        .commands
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(i, c)| {
            let (mark, style) = if i < b.done {
                ("✓", theme.ok())
            } else if i == current {
                ("▶", theme.selected())
            } else {
                (" ", theme.dim())
            };
            let text = format!("{mark} {:>3} {c}", i + 1);
            Line::from(Span::styled(fit(&text, width), style))
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

/// Draws the pane.
pub fn render(f: &mut Frame, area: Rect, m: &Model, theme: Theme) {
    if let Some(b) = m.build() {
        plan(f, area, m, b, theme);
        return;
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(m.focus == Focus::Journey));
    let Some(j) = &m.journey else {
        let block = block.title(Span::styled(" Journey ", theme.title()));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let text = "Select a packet (Tab to the packet list, ↑↓) to see its path hop by hop, \
                    or press p to ping from the selected node and walk the ping with n/N.";
        f.render_widget(
            Paragraph::new(Span::styled(text, theme.dim())).wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    let title = format!(
        " Journey {}/{} — {} ",
        j.which + 1,
        j.journeys.len().max(1),
        j.title
    );
    let block = block.title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let width = usize::from(inner.width);
    let Some(jr) = j.current() else {
        f.render_widget(Paragraph::new("no journey found for this packet"), inner);
        return;
    };
    let verdict_style = if jr.delivered {
        theme.ok()
    } else {
        theme.error()
    };
    let (short, decided) = shape(m, inner);
    let mut lines = vec![];
    if !short {
        lines.push(Line::from(Span::raw(fit(&jr.summary, width))));
    }
    lines.extend([
        Line::from(Span::styled(
            fit(&format!("{} hops — {}", jr.hops.len(), jr.verdict), width),
            verdict_style,
        )),
        Line::from(Span::styled(
            fit(
                &format!(
                    "{:>3} {:<34} {:>8}  what happened",
                    "#", "node:interface dir", "+Δ µs"
                ),
                width,
            ),
            theme.title(),
        )),
    ]);
    let (start, h) = window(j.hop, inner, short, decided.len());
    for (i, hop) in jr.hops.iter().enumerate().skip(start).take(h) {
        let at = format!("{}:{} {}", hop.node, hop.iface, hop.dir.as_str());
        #[expect(clippy::cast_precision_loss, reason = "display of microseconds")]
        let delta = hop
            .delta_ns
            .map(|d| format!("{:.1}", d as f64 / 1000.0))
            .unwrap_or_default();
        let what = if i == 0 {
            hop.summary.clone()
        } else if hop.changes.is_empty() {
            "—".to_string()
        } else {
            hop.changes.join("; ")
        };
        let text = format!("{:>3} {} {delta:>8}  {what}", i + 1, fit(&at, 34));
        let style = if i == j.hop {
            theme.hop()
        } else {
            Style::new()
        };
        lines.push(Line::from(Span::styled(fit(&text, width), style)));
    }
    lines.resize(
        usize::from(inner.height).saturating_sub(decided.len()),
        Line::raw(""),
    );
    lines.extend(
        decided
            .into_iter()
            .map(|l| Line::from(Span::styled(l, theme.hop()))),
    );
    f.render_widget(Paragraph::new(lines), inner);
}

/// Whether the pane, `inner` inside its border, is short (the packet's summary goes, the
/// deciding entries take one line), and the lines saying what decided the hop.
fn shape(m: &Model, inner: Rect) -> (bool, Vec<String>) {
    let short = inner.height < 8;
    let mut decided = decided_by(m, usize::from(inner.width));
    decided.truncate(if short { 1 } else { DECIDED_LINES });
    (short, decided)
}

/// Lines above the hops.
fn head(short: bool) -> usize {
    if short { 2 } else { 3 }
}

/// The first hop listed and how many fit, for hop `hop` to show.
fn window(hop: usize, inner: Rect, short: bool, decided: usize) -> (usize, usize) {
    let h = usize::from(inner.height).saturating_sub(head(short) + decided);
    (hop.saturating_sub(h.saturating_sub(1)), h)
}

/// The hop listed on screen row `y` of the pane at `area`, if one is.
pub fn hop_at(m: &Model, area: Rect, y: u16) -> Option<usize> {
    let j = m.journey.as_ref()?;
    let inner = Block::default().borders(Borders::ALL).inner(area);
    let (short, decided) = shape(m, inner);
    let (start, h) = window(j.hop, inner, short, decided.len());
    let row = usize::from(y.checked_sub(inner.y)?).checked_sub(head(short))?;
    let hops = j.current().map_or(0, |c| c.hops.len());
    (row < h && start + row < hops).then_some(start + row)
}

/// Lines at most this many say what decided the hop.
const DECIDED_LINES: usize = 2;

/// What decided the hop being walked, wrapped to `width`: `▶ node: route … · fdb …`.
fn decided_by(m: &Model, width: usize) -> Vec<String> {
    let found = decisions(m);
    let Some(first) = found.first() else {
        return Vec::new();
    };
    let what: Vec<&str> = found.iter().map(|d| d.what.as_str()).collect();
    let text = format!("▶ {} decided by: {}", first.node, what.join(" · "));
    let mut lines = wrap_words(&text, width);
    if lines.len() > DECIDED_LINES {
        lines.truncate(DECIDED_LINES);
        let last = lines.last_mut().expect("two lines");
        *last = fit(&format!("{last} …"), width);
    }
    lines.into_iter().map(|l| fit(&l, width)).collect()
}
