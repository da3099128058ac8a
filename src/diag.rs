//! Diagnostics for scenario files: a message anchored to a byte span of the source,
//! rendered as `file:line:column` with the offending text underlined.
//!
//! This module knows nothing about TOML or labs; it only maps spans to lines.

use std::fmt::Write as _;
use std::ops::Range;

/// One problem found in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// What is wrong, in one sentence.
    pub message: String,
    /// Byte range of the offending text in the source.
    pub span: Range<usize>,
    /// What to do about it, if there is something obvious.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span,
            help: None,
        }
    }

    /// Adds a hint saying what to do.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A source position, 1-based, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line number, from 1.
    pub line: usize,
    /// Column number, from 1, in characters.
    pub column: usize,
}

/// Where byte offset `offset` of `source` sits.
pub fn position(source: &str, offset: usize) -> Position {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    Position { line, column }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders diagnostics the way compilers do:
///
/// ```text
/// error: VNI 0 is outside 1..=16777215
///   --> labs/x.toml:12:7
///    |
/// 12 | vni = 0
///    |       ^
///    = help: ...
/// ```
pub fn render(path: &str, source: &str, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let pos = position(source, d.span.start);
        let line_start = source[..floor_char_boundary(source, d.span.start.min(source.len()))]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line_end = source[line_start..]
            .find('\n')
            .map_or(source.len(), |i| line_start + i);
        let text = source[line_start..line_end].trim_end_matches('\r');
        let end = floor_char_boundary(source, d.span.end.clamp(d.span.start, line_end));
        let width = source[floor_char_boundary(source, d.span.start.min(line_end))..end]
            .chars()
            .count()
            .max(1);
        let gutter = pos.line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "error: {}", d.message);
        let _ = writeln!(out, "{pad}--> {path}:{}:{}", pos.line, pos.column);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {text}", pos.line);
        let _ = writeln!(
            out,
            "{pad} | {}{}",
            " ".repeat(pos.column - 1),
            "^".repeat(width)
        );
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(position(src, 0), Position { line: 1, column: 1 });
        let at = src.find('2').unwrap();
        assert_eq!(position(src, at), Position { line: 2, column: 6 });
    }

    #[test]
    fn render_underlines_the_span() {
        let src = "[lab]\nname = \"x\"\nvni = 0\n";
        let start = src.find('0').unwrap();
        let d = Diagnostic::new(start..start + 1, "VNI 0 is outside 1..=16777215")
            .with_help("pick a VNI");
        let text = render("x.toml", src, &[d]);
        assert_eq!(
            text,
            "error: VNI 0 is outside 1..=16777215\n --> x.toml:3:7\n  |\n3 | vni = 0\n  |       ^\n  = help: pick a VNI\n\n"
        );
    }
}
