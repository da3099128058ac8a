//! The two bottom lines: the status (lab, build step, capture, packets, the last notice)
//! or the prompt being typed; and the key hints, from the binding table.

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::ui::keys::hints;
use crate::ui::model::{CaptureState, Mode, Model, Phase, Purpose};
use crate::ui::style::Theme;

fn phase(m: &Model, theme: Theme) -> Span<'static> {
    let name = &m.lab.name;
    match &m.phase {
        Phase::Attached => Span::raw(format!("lab {name} (attached: left up on quit)")),
        Phase::Built => Span::raw(format!("lab {name} (built here)")),
        Phase::Failed(e) => Span::styled(
            format!(
                "lab {name}: build failed: {}",
                e.lines().next().unwrap_or_default()
            ),
            theme.error(),
        ),
        Phase::Building(b) => {
            let total = b.commands.len();
            let text = match b.running {
                Some(i) => format!(
                    "lab {name}: building, step {}/{total}: {}",
                    i + 1,
                    b.commands.get(i).map_or("", String::as_str)
                ),
                None if b.awaiting_key() => format!(
                    "lab {name}: {}/{total} applied — s or Enter applies step {}: {}",
                    b.done,
                    b.done + 1,
                    b.commands.get(b.done).map_or("", String::as_str)
                ),
                None => format!("lab {name}: building, {}/{total} applied", b.done),
            };
            Span::styled(text, theme.key())
        }
    }
}

fn capture(m: &Model) -> String {
    match &m.capture {
        CaptureState::Off => "capture: not started".into(),
        CaptureState::Starting => "capture: starting…".into(),
        CaptureState::Failed(e) => format!("capture failed: {e}"),
        CaptureState::Running { failed, dropped } => {
            let ifaces = m
                .points
                .iter()
                .map(|p| (&p.netns, &p.iface))
                .collect::<std::collections::HashSet<_>>()
                .len();
            let mut s = format!("capturing on {ifaces} interfaces");
            if !failed.is_empty() {
                let _ = write!(s, " ({} points failed)", failed.len());
            }
            let _ = write!(
                s,
                ", {} packets, {} evicted, {dropped} dropped",
                m.packets.next_seq(),
                m.packets.evicted
            );
            s
        }
    }
}

/// Draws the status line, or the prompt.
pub fn render(f: &mut Frame, area: Rect, m: &Model, theme: Theme) {
    if let Mode::Prompt(p) = &m.mode {
        let label = match p.purpose {
            Purpose::Filter => "filter packets (Enter: keep, Esc: clear): ".to_string(),
            Purpose::Ping => format!(
                "ping from {} to (IP, Enter: send, Esc: cancel): ",
                m.node().map_or("?", |n| n.id.as_str())
            ),
        };
        let line = Line::from(vec![
            Span::styled(label, theme.key()),
            Span::raw(p.text.clone()),
            Span::styled("█", theme.dim()),
        ]);
        f.render_widget(line, area);
        return;
    }
    let mut spans = vec![phase(m, theme), Span::raw(" · "), Span::raw(capture(m))];
    if let Some(t) = &m.pinging {
        spans.push(Span::raw(format!(" · pinging {t}…")));
    }
    if let Some(n) = &m.note {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(n.clone(), theme.title()));
    }
    f.render_widget(Line::from(spans), area);
}

/// Draws the key hints.
pub fn render_hints(f: &mut Frame, area: Rect, m: &Model, theme: Theme) {
    let mut spans = Vec::new();
    for (keys, label) in hints(m.stepping(), m.focus) {
        spans.push(Span::styled(keys, theme.key()));
        spans.push(Span::styled(format!(" {label}  "), theme.dim()));
    }
    f.render_widget(Line::from(spans), area);
}
