//! Where everything of the Topology pane goes: a box per host side by side, each holding
//! its tree of namespaces line by line; the host's wires to the underlay as rails down the
//! box's right edge to the switch's bus below the boxes; under the bus, one line per VXLAN
//! network between its VTEPs' hosts.
//!
//! The result is a list of [`Piece`]s of text, each with the [`Role`] it plays, shared by
//! the drawing (which styles them by role, state and selection) and by mouse hit-testing.
//! When a host's tree does not fit, its leaves are packed side by side; when that still
//! does not fit, the box scrolls to keep the selection in view.

use ratatui::layout::Rect;

use super::{Item, Row, TopoView};

/// What a click selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A node.
    Node(usize),
    /// A link.
    Link(usize),
}

/// What a piece of text stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Tree guides and connectors.
    Guide,
    /// A node's name.
    Node(usize),
    /// A node drawn elsewhere, named again at the end of a cross link.
    NodeRef(usize),
    /// A link (its label, its rail, its tunnel line).
    Link(usize),
    /// A bridge of a node.
    Bridge(usize, String),
    /// A VXLAN device of a node.
    Vtep(usize, String),
    /// The underlay switch's bus.
    Bus,
}

impl Role {
    /// What clicking it selects.
    pub fn target(&self) -> Option<Target> {
        match self {
            Self::Node(n) | Self::NodeRef(n) | Self::Bridge(n, _) | Self::Vtep(n, _) => {
                Some(Target::Node(*n))
            }
            Self::Link(l) => Some(Target::Link(*l)),
            Self::Guide | Self::Bus => None,
        }
    }
}

/// A run of text at a position, and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Column.
    pub x: u16,
    /// Row.
    pub y: u16,
    /// The text (one line).
    pub text: String,
    /// What it stands for.
    pub role: Role,
}

impl Piece {
    /// Its rectangle.
    pub fn rect(&self) -> Rect {
        Rect::new(self.x, self.y, width(&self.text), 1)
    }
}

/// A host's box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBox {
    /// Its rectangle, borders included.
    pub rect: Rect,
    /// Lines scrolled out above, and below.
    pub hidden: (usize, usize),
    /// Whether its leaves are packed (compact layout).
    pub compact: bool,
    /// Columns of its rails (its links to the underlay), with the link.
    pub rails: Vec<(u16, usize)>,
}

/// A clickable region and what it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spot {
    /// Where.
    pub rect: Rect,
    /// What.
    pub target: Target,
}

/// Everything the Topology pane draws.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geometry {
    /// Each host's box.
    pub boxes: Vec<HostBox>,
    /// The text inside and below the boxes.
    pub pieces: Vec<Piece>,
    /// Row of the underlay bus, if there is one on screen.
    pub bus: Option<u16>,
}

impl Geometry {
    /// Clickable regions.
    pub fn spots(&self) -> impl Iterator<Item = Spot> + '_ {
        self.pieces.iter().filter_map(|p| {
            Some(Spot {
                rect: p.rect(),
                target: p.role.target()?,
            })
        })
    }

    /// What is at `(x, y)`.
    pub fn hit(&self, x: u16, y: u16) -> Option<Target> {
        self.spots()
            .find(|s| s.rect.contains(ratatui::layout::Position::new(x, y)))
            .map(|s| s.target)
    }
}

fn width(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
}

/// One visual line of a box, as pieces relative to the box's inner left edge.
#[derive(Debug, Clone, Default)]
struct Line {
    pieces: Vec<(u16, String, Role)>,
    /// Columns used.
    used: u16,
    /// Targets it shows (for scrolling to the selection).
    shows: Vec<Target>,
}

impl Line {
    fn push(&mut self, text: impl Into<String>, role: Role) {
        let text = text.into();
        if let Some(t) = role.target() {
            self.shows.push(t);
        }
        let w = width(&text);
        self.pieces.push((self.used, text, role));
        self.used += w;
    }
}

/// The two ends of a tree link as drawn from parent `from`: `parent_iface═child_iface`.
fn oriented(t: &TopoView, link: usize, from: usize) -> String {
    let l = &t.links[link];
    match l.ends.as_slice() {
        [(a, ia), (_, ib)] if *a == from => format!("{ia}═{ib}"),
        [(_, ia), (_, ib)] => format!("{ib}═{ia}"),
        _ => l.label.clone(),
    }
}

/// The parent of row `i` (the nearest row above it one level up).
fn parent(rows: &[Row], i: usize) -> Option<usize> {
    let depth = rows[i].depth.checked_sub(1)?;
    (0..i).rev().find(|&k| rows[k].depth == depth)
}

fn row_node(r: &Row) -> Option<usize> {
    match r.item {
        Item::Node { node, .. } => Some(node),
        _ => None,
    }
}

/// The lines of `rows` in a box `inner` columns wide: a row too wide names its link by
/// its connector alone, so the namespace's name still shows.
fn lines(t: &TopoView, rows: &[Row], inner: u16) -> Vec<Line> {
    let mut out = Vec::new();
    for i in 0..rows.len() {
        let mut mine = row_lines(t, rows, i, inner, false);
        if mine.iter().any(|l| l.used > inner) {
            mine = row_lines(t, rows, i, inner, true);
        }
        out.extend(mine);
    }
    out
}

/// The line (or lines, for packed leaves) of row `i`.
fn row_lines(t: &TopoView, rows: &[Row], i: usize, inner: u16, short: bool) -> Vec<Line> {
    let r = &rows[i];
    let mut out = Vec::new();
    {
        let mut line = Line::default();
        line.push(" ", Role::Guide);
        let from = parent(rows, i).and_then(|p| row_node(&rows[p]));
        let connector = |dotted: bool| match (r.last, dotted) {
            (true, false) => "└─",
            (false, false) => "├─",
            (true, true) => "└┄",
            (false, true) => "├┄",
        };
        if r.depth > 0 {
            line.push(r.guides.clone(), Role::Guide);
        }
        match &r.item {
            Item::Node { node, link } => {
                if let (Some(l), Some(p)) = (link, from) {
                    line.push(connector(false), Role::Guide);
                    let label = if short {
                        "═".into()
                    } else {
                        oriented(t, *l, p)
                    };
                    line.push(label, Role::Link(*l));
                    line.push("─ ", Role::Guide);
                }
                let n = &t.nodes[*node];
                line.push(n.label.clone(), Role::Node(*node));
                for b in &n.bridges {
                    line.push(" ", Role::Guide);
                    line.push(format!("⟦{b}⟧"), Role::Bridge(*node, b.clone()));
                }
                for v in &n.vteps {
                    line.push(" ", Role::Guide);
                    line.push(format!("◈{v}"), Role::Vtep(*node, v.clone()));
                }
                out.push(line);
            }
            Item::Cross { link, node } => {
                line.push(connector(true), Role::Guide);
                let label = match from {
                    _ if short => "═".into(),
                    Some(p) => oriented(t, *link, p),
                    None => t.links[*link].label.clone(),
                };
                line.push(label, Role::Link(*link));
                line.push("┄ ↪ ", Role::Guide);
                line.push(t.nodes[*node].id.clone(), Role::NodeRef(*node));
                out.push(line);
            }
            Item::Leaves(leaves) => {
                line.push(connector(false), Role::Guide);
                line.push(format!("{}× ", leaves.len()), Role::Guide);
                let cont = format!(" {}{}", r.guides, if r.last { "  " } else { "│ " });
                for (k, &(l, n)) in leaves.iter().enumerate() {
                    let label = &t.nodes[n].label;
                    if k > 0 && line.used + 1 + width(label) > inner {
                        out.push(std::mem::take(&mut line));
                        line.push(cont.clone(), Role::Guide);
                    } else if k > 0 {
                        line.push(" ", Role::Guide);
                    }
                    line.shows.push(Target::Link(l));
                    line.push(label.clone(), Role::Node(n));
                }
                out.push(line);
            }
        }
    }
    out
}

/// Columns host `h`'s box needs for its full tree: its widest line, and the line of each
/// uplink's node with room for the uplink's name on its stub; rails included.
pub(super) fn demand(t: &TopoView, h: usize) -> u16 {
    let host = &t.hosts[h];
    let rails = rail_cols(t, h);
    lines(t, &host.rows, u16::MAX)
        .iter()
        .map(|l| {
            let stub = host
                .uplinks
                .iter()
                .filter(|&&u| l.shows.contains(&Target::Node(t.links[u].ends[0].0)))
                .map(|&u| width(&t.links[u].label) + 3)
                .max()
                .unwrap_or(0);
            l.used + stub + rails
        })
        .max()
        .unwrap_or(0)
}

/// Columns the rails take at the right of host `h`'s box: two per uplink, and a gap.
fn rail_cols(t: &TopoView, h: usize) -> u16 {
    match u16::try_from(t.hosts[h].uplinks.len()).unwrap_or(0) {
        0 => 0,
        n => 2 * n + 1,
    }
}

/// Box widths (borders included) sharing `total` columns by demand.
fn widths(t: &TopoView, total: u16) -> Vec<u16> {
    let n = t.hosts.len();
    if n == 0 {
        return Vec::new();
    }
    let want: Vec<u32> = t.hosts.iter().map(|h| u32::from(h.demand + 2)).collect();
    let sum: u32 = want.iter().sum();
    let total32 = u32::from(total);
    let mut out: Vec<u16> = if sum <= total32 {
        let extra = (total32 - sum) / u32::try_from(n).unwrap_or(1);
        want.iter()
            .map(|w| u16::try_from(w + extra).unwrap_or(u16::MAX))
            .collect()
    } else {
        // Shrink the widest first: each gets its demand up to a common cap.
        let mut cap = total32;
        while cap > 8 && want.iter().map(|w| (*w).min(cap)).sum::<u32>() > total32 {
            cap -= 1;
        }
        want.iter()
            .map(|w| u16::try_from((*w).min(cap)).unwrap_or(u16::MAX))
            .collect()
    };
    let used: u16 = out.iter().sum();
    if let Some(last) = out.last_mut() {
        *last += total.saturating_sub(used);
    }
    out
}

/// Lines a box asks for, at least, when its leaves are packed.
const MIN_ROWS: usize = 8;

/// Rows the pane needs (borders included) to show everything at `columns` wide.
pub fn desired_height(t: &TopoView, columns: u16) -> u16 {
    let inner = columns.saturating_sub(2);
    let ws = widths(t, inner);
    let tallest = t
        .hosts
        .iter()
        .zip(&ws)
        .enumerate()
        .map(|(h, (host, w))| {
            let inner_w = w.saturating_sub(2 + rail_cols(t, h));
            let full = lines(t, &host.rows, inner_w).len();
            let packed = lines(t, &host.compact, inner_w).len();
            u16::try_from(full.min(packed.max(MIN_ROWS))).unwrap_or(u16::MAX)
        })
        .max()
        .unwrap_or(0);
    tallest + 2 + below(t) + 2
}

/// Lines below the boxes: the bus and the tunnels.
fn below(t: &TopoView) -> u16 {
    u16::try_from(t.tunnels.len()).unwrap_or(0) + u16::from(t.underlay.is_some())
}

/// Lays the pane's inner `area` out, scrolled to show `focus`.
pub fn geometry(t: &TopoView, area: Rect, focus: Option<Target>) -> Geometry {
    let mut geo = Geometry::default();
    let under = below(t).min(area.height.saturating_sub(3));
    let box_h = area.height - under;
    let mut x = area.x;
    for (h, w) in widths(t, area.width).into_iter().enumerate() {
        let rect = Rect::new(x, area.y, w, box_h);
        x += w;
        geo.boxes.push(host_box(t, h, rect, focus, &mut geo.pieces));
    }
    let mut y = area.y + box_h;
    let bottom = area.y + area.height;
    if let Some(u) = t.underlay
        && y < bottom
    {
        bus(t, u, &geo.boxes, area, y, &mut geo.pieces);
        geo.bus = Some(y);
        y += 1;
    }
    for &l in &t.tunnels {
        if y >= bottom {
            break;
        }
        tunnel(t, l, &geo.boxes, area, y, &mut geo.pieces);
        y += 1;
    }
    geo
}

fn host_box(
    t: &TopoView,
    h: usize,
    rect: Rect,
    focus: Option<Target>,
    pieces: &mut Vec<Piece>,
) -> HostBox {
    let host = &t.hosts[h];
    let inner = Rect::new(
        rect.x + 1,
        rect.y + 1,
        rect.width.saturating_sub(2),
        rect.height.saturating_sub(2),
    );
    let text_w = inner.width.saturating_sub(rail_cols(t, h));
    let rows_h = usize::from(inner.height);
    let full = lines(t, &host.rows, text_w);
    let (all, compact) = if full.len() <= rows_h {
        (full, false)
    } else {
        let packed = lines(t, &host.compact, text_w);
        if packed.len() < full.len() {
            (packed, true)
        } else {
            (full, false)
        }
    };
    let focused = all
        .iter()
        .position(|l| focus.is_some_and(|f| l.shows.contains(&f)));
    let top = match focused {
        Some(i) if all.len() > rows_h => i.saturating_sub(rows_h / 2).min(all.len() - rows_h),
        _ => 0,
    };
    let shown = all.len().saturating_sub(top).min(rows_h);
    let hidden = (top, all.len() - top - shown);
    let rails: Vec<(u16, usize)> = host
        .uplinks
        .iter()
        .enumerate()
        .map(|(k, &l)| {
            let k = u16::try_from(k).unwrap_or(0);
            (rect.right().saturating_sub(3 + 2 * k), l)
        })
        .collect();
    let mut rail_top: Vec<Option<u16>> = vec![None; rails.len()];
    for (row, line) in all.iter().skip(top).take(shown).enumerate() {
        let y = inner.y + u16::try_from(row).unwrap_or(0);
        for (dx, text, role) in &line.pieces {
            if *dx >= text_w {
                break;
            }
            let room = usize::from(text_w - dx);
            let text = if text.chars().count() > room {
                let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
                cut.push('…');
                cut
            } else {
                text.clone()
            };
            pieces.push(Piece {
                x: inner.x + dx,
                y,
                text,
                role: role.clone(),
            });
        }
        // A rail starts on the line of the node its uplink leaves from.
        for (k, &(rx, l)) in rails.iter().enumerate() {
            let from = t.links[l].ends[0].0;
            if line.shows.contains(&Target::Node(from)) && rail_top[k].is_none() {
                rail_top[k] = Some(y);
                let start = inner.x + line.used + 1;
                let label = &t.links[l].label;
                let run = usize::from(rx.saturating_sub(start));
                let stub = if run >= label.chars().count() + 2 {
                    format!("{}{label}─┐", "─".repeat(run - label.chars().count() - 1))
                } else {
                    format!("{}┐", "─".repeat(run))
                };
                pieces.push(Piece {
                    x: rx + 1 - width(&stub),
                    y,
                    text: stub,
                    role: Role::Link(l),
                });
            }
        }
    }
    for (k, &(rx, l)) in rails.iter().enumerate() {
        let first = rail_top[k].map_or(inner.y, |y| y + 1);
        for y in first..rect.bottom().saturating_sub(1) {
            pieces.push(Piece {
                x: rx,
                y,
                text: "│".into(),
                role: Role::Link(l),
            });
        }
        pieces.push(Piece {
            x: rx,
            y: rect.bottom().saturating_sub(1),
            text: "┼".into(),
            role: Role::Link(l),
        });
    }
    HostBox {
        rect,
        hidden,
        compact,
        rails,
    }
}

/// The underlay switch `switch` as a bus on row `y`, the hosts' rails landing on it.
fn bus(
    t: &TopoView,
    switch: usize,
    boxes: &[HostBox],
    area: Rect,
    y: u16,
    pieces: &mut Vec<Piece>,
) {
    pieces.push(Piece {
        x: area.x,
        y,
        text: "═".repeat(usize::from(area.width)),
        role: Role::Bus,
    });
    let rails: Vec<(u16, usize)> = boxes.iter().flat_map(|b| b.rails.clone()).collect();
    for &(rx, l) in &rails {
        pieces.push(Piece {
            x: rx,
            y,
            text: "╧".into(),
            role: Role::Link(l),
        });
    }
    // The switch's name goes where no rail comes down.
    let label = format!(" {} switch ", t.nodes[switch].label);
    let mut at = area.x + 1;
    while let Some(&(rx, _)) = rails
        .iter()
        .find(|(rx, _)| (at..at + width(&label)).contains(rx))
    {
        at = rx + 2;
    }
    if at + width(&label) <= area.right() {
        pieces.push(Piece {
            x: at,
            y,
            text: label,
            role: Role::Node(switch),
        });
    }
}

/// Tunnel `tunnel` on row `y`: a mark in the box of each VTEP's host, joined.
fn tunnel(
    t: &TopoView,
    tunnel: usize,
    boxes: &[HostBox],
    area: Rect,
    y: u16,
    pieces: &mut Vec<Piece>,
) {
    let link = &t.links[tunnel];
    let mut marks: Vec<u16> = Vec::new();
    for (node, _) in &link.ends {
        let Some(b) = t.host_of_node(*node).and_then(|(h, _)| boxes.get(h)) else {
            continue;
        };
        let mut at = b.rect.x + 2;
        while marks.contains(&at) {
            at += 2;
        }
        marks.push(at);
    }
    marks.sort_unstable();
    let (Some(&first), Some(&last)) = (marks.first(), marks.last()) else {
        return;
    };
    let joined: String = (first..=last)
        .map(|at| if marks.contains(&at) { '◈' } else { '═' })
        .collect();
    let ends: Vec<String> = link
        .ends
        .iter()
        .map(|(node, iface)| format!("{}:{iface}", t.nodes[*node].id))
        .collect();
    let label = format!(" {} · {} · {}", link.label, link.detail, ends.join(" ⇄ "));
    let room = usize::from(area.right().saturating_sub(last + 1));
    let label: String = if label.chars().count() > room {
        let mut cut: String = label.chars().take(room.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        label
    };
    pieces.push(Piece {
        x: first,
        y,
        text: joined,
        role: Role::Link(tunnel),
    });
    if !label.is_empty() {
        pieces.push(Piece {
            x: last + 1,
            y,
            text: label,
            role: Role::Link(tunnel),
        });
    }
}
