//! The `?` help: every binding of the one key table, and what the table marks mean.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::ui::keys::{BINDINGS, When, keys_label};
use crate::ui::layout::centered;
use crate::ui::style::Theme;

/// Draws the help over `area`.
pub fn render(f: &mut Frame, area: Rect, theme: Theme) {
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|b| {
            let when = if b.when == When::Stepping {
                " (while a --step build waits)"
            } else {
                ""
            };
            Line::from(vec![
                Span::styled(format!("{:>14}  ", keys_label(b)), theme.key()),
                Span::raw(format!("{}{when}", b.help)),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("  tables:  ", theme.title()),
        Span::raw("+ added  ~ changed  - removed (struck out, kept a few seconds)"),
    ]));
    lines.push(Line::from(vec![
        Span::styled("  walking: ", theme.title()),
        Span::raw("▶ marks the rows that decided the hop (route, neighbour, fdb, NAT, conntrack)"),
    ]));
    lines.push(Line::from(vec![
        Span::styled("  topology: ", theme.title()),
        Span::raw("interfaces green when up, red when down, dim when not there (yet)"),
    ]));
    lines.push(Line::from(vec![
        Span::styled("  mouse:   ", theme.title()),
        Span::raw("click a node, a tab, a packet or a hop; the wheel scrolls"),
    ]));
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "  any key closes this help",
        theme.dim(),
    )));
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let r = centered(area, 96, h);
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Keys ", theme.title()))
        .border_style(theme.border(true));
    f.render_widget(Paragraph::new(lines).block(block), r);
}
