//! The exercise strip: the exercise under way (its task, the hints revealed so far and how
//! its checks went), or the last one finished, above the status line.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::tables::fit;
use crate::ui::exercise::ExerciseView;
use crate::ui::style::Theme;

/// Lines of the task shown at most.
const TASK_LINES: usize = 2;
/// Hints shown at most (the latest).
const HINT_LINES: usize = 3;

/// `text` cut into lines of at most `width` columns at spaces (a longer word is cut).
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        let used = line.chars().count();
        if used > 0 && used + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if used > 0 {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

fn body(v: &ExerciseView, width: usize) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    if let Some(task) = &v.task {
        let mut lines = wrap_words(task, width);
        if lines.len() > TASK_LINES {
            lines.truncate(TASK_LINES);
            let last = lines.last_mut().expect("two lines");
            *last = fit(&format!("{last} …"), width);
        }
        out.extend(lines.into_iter().map(|l| (l, false)));
    }
    let skip = v.hints.len().saturating_sub(HINT_LINES);
    out.extend(v.hints.iter().skip(skip).map(|h| (fit(h, width), true)));
    out
}

/// Rows the strip takes at `width` columns (its top border and status line included).
pub fn height(v: &ExerciseView, width: u16) -> u16 {
    u16::try_from(body(v, usize::from(width)).len() + 2).unwrap_or(u16::MAX)
}

/// Draws the strip.
pub fn render(f: &mut Frame, area: Rect, v: &ExerciseView, theme: Theme) {
    let title_style = if v.passed { theme.ok() } else { theme.key() };
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.dim())
        .title(Span::styled(format!(" {} ", v.title), title_style));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines: Vec<Line> = body(v, width)
        .into_iter()
        .map(|(text, hint)| {
            if hint {
                Line::from(Span::styled(text, theme.dim()))
            } else {
                Line::from(text)
            }
        })
        .collect();
    lines.push(Line::from(Span::styled(fit(&v.status, width), theme.dim())));
    f.render_widget(Paragraph::new(lines), inner);
}
