//! The packet detail view: every decoded layer with all its fields, then the bytes in hex,
//! each layer's bytes in its own style.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::decode::{DecodeOptions, Packet, decode};
use crate::ui::layout::centered;
use crate::ui::model::Model;
use crate::ui::render::packets::seconds;
use crate::ui::style::Theme;

/// A layer's serialized form with its fields in declaration order (`serde_json::Value`
/// sorts them by name).
enum Field {
    Leaf(String),
    List(Vec<Field>),
    Map(Vec<(String, Field)>),
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Field, E> {
        Ok(Field::Leaf(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Field, E> {
        Ok(Field::Leaf(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Field, E> {
        Ok(Field::Leaf(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Field, E> {
        Ok(Field::Leaf(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Field, E> {
        Ok(Field::Leaf(v.to_string()))
    }
    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(Field::Leaf("-".into()))
    }
    fn visit_none<E>(self) -> Result<Field, E> {
        Ok(Field::Leaf("-".into()))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(Field::List(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = map.next_entry::<String, Field>()? {
            v.push((k, x));
        }
        Ok(Field::Map(v))
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

/// Flattens a field into `name: value` lines.
fn fields(prefix: &str, v: &Field, out: &mut Vec<String>) {
    match v {
        Field::Map(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                fields(&name, v, out);
            }
        }
        Field::List(items) if items.iter().any(|x| !matches!(x, Field::Leaf(_))) => {
            for (i, v) in items.iter().enumerate() {
                fields(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Field::List(items) => {
            let s: Vec<&str> = items
                .iter()
                .filter_map(|x| match x {
                    Field::Leaf(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            out.push(format!("{prefix}: [{}]", s.join(", ")));
        }
        Field::Leaf(s) if prefix.is_empty() => out.push(format!("bytes: {s}")),
        Field::Leaf(s) => out.push(format!("{prefix}: {s}")),
    }
}

/// The layer lines of `pkt`: a heading per layer, then its fields.
pub fn layer_lines(pkt: &Packet<'_>, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (i, (layer, span)) in pkt.iter().enumerate() {
        lines.push(Line::from(Span::styled(
            format!(
                "{} — bytes {}..{} ({} bytes)",
                layer.name(),
                span.offset,
                span.offset + span.len,
                span.len
            ),
            theme.layer(i).add_modifier(ratatui::style::Modifier::BOLD),
        )));
        let mut out = Vec::new();
        let json = serde_json::to_string(layer).unwrap_or_default();
        if let Ok(Field::Map(map)) = serde_json::from_str::<Field>(&json) {
            for (_, v) in &map {
                fields("", v, &mut out);
            }
        }
        lines.extend(out.into_iter().map(|s| Line::raw(format!("    {s}"))));
    }
    if let Some(e) = &pkt.error {
        lines.push(Line::from(Span::styled(
            format!("decode error: {e}"),
            theme.error(),
        )));
    }
    lines
}

/// The hex dump of `data`, 16 bytes a line, each byte styled by the layer it belongs to.
pub fn hex_lines(pkt: &Packet<'_>, data: &[u8], theme: Theme) -> Vec<Line<'static>> {
    let spans: Vec<_> = pkt.iter().map(|(_, s)| s).collect();
    let style_of = |at: usize| {
        spans
            .iter()
            .rposition(|s| s.range().contains(&at))
            .map_or(Style::new(), |i| theme.layer(i))
    };
    data.chunks(16)
        .enumerate()
        .map(|(row, chunk)| {
            let mut v = vec![Span::styled(format!("{:04x}  ", row * 16), theme.dim())];
            for (i, b) in chunk.iter().enumerate() {
                let sep = if i == 8 { "  " } else { " " };
                v.push(Span::raw(sep));
                v.push(Span::styled(format!("{b:02x}"), style_of(row * 16 + i)));
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() {
                        char::from(b)
                    } else {
                        '.'
                    }
                })
                .collect();
            let used = 3 * chunk.len() + usize::from(chunk.len() > 8);
            v.push(Span::raw(" ".repeat(49 - used + 2)));
            v.push(Span::styled(ascii, theme.dim()));
            Line::from(v)
        })
        .collect()
}

/// Draws the details of packet `seq` over `area`, scrolled `scroll` lines.
pub fn render(f: &mut Frame, area: Rect, m: &Model, seq: u64, scroll: u16, theme: Theme) {
    let r = centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    f.render_widget(Clear, r);
    let Some(c) = m.packets.get(seq) else {
        let block = Block::default().borders(Borders::ALL).title(" Packet ");
        f.render_widget(
            Paragraph::new("this packet left the ring buffer").block(block),
            r,
        );
        return;
    };
    let pkt = decode(&c.frame.data, &DecodeOptions::default());
    let point = m
        .points
        .get(c.frame.point)
        .map(ToString::to_string)
        .unwrap_or_default();
    let title = format!(
        " Packet #{seq} — {point} — t {} s — {} bytes on the wire, {} captured (↑↓ scroll, any key closes) ",
        seconds(c.frame.ts_ns, m.packets.t0.unwrap_or(0)),
        c.frame.len,
        c.frame.data.len()
    );
    let mut lines = vec![
        Line::from(Span::styled(c.summary.clone(), theme.title())),
        Line::raw(""),
    ];
    lines.extend(layer_lines(&pkt, theme));
    lines.push(Line::raw(""));
    lines.extend(hex_lines(&pkt, &c.frame.data, theme));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()))
        .border_style(theme.border(true));
    f.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), r);
}
