//! Where each pane goes, and [`view`], which draws them all.
//!
//! ```text
//! ┌ Topology ───────────────────────────────────────────────────────────────┐
//! │┌ hostA 192.168.228.148 ─────────────────┐┌ hostB 192.168.228.149 ──────┐│
//! ││▸hostA ⟦pandora_bridge⟧ ─────────eth0─┐ ││ hostB ⟦pandora_bridge⟧ ─…─┐ ││
//! ││ └─veth100═veth101─ sandbox_1         │ ││ └─veth100═veth101─ …      │ ││
//! ││   └─veth102═veth103─ sandbox_2 ◈vxlan0│ ││   …                       │ ││
//! │└──────────────────────────────────────┼─┘└───────────────────────────┼─┘│
//! │═ underlay switch ═════════════════════╧═══════════════════════════════╧══│
//! │  ◈════════════════════════════════════════◈ vni 100 · udp 4789 · …       │
//! └─────────────────────────────────────────────────────────────────────────┘
//! ┌ Tables — node ────────────────┐┌ Packets ────────────────────────────────┐
//! │ 1 links 2 addresses … 5 fdb   ││ time  node:iface dir  summary           │
//! │ rows (+ added ~ changed       ││ …                                       │
//! │  - removed, ▶ decided the hop)│└─────────────────────────────────────────┘
//! │                               │┌ Journey ────────────────────────────────┐
//! │                               ││ hop by hop (or the build plan)          │
//! └───────────────────────────────┘└─────────────────────────────────────────┘
//!  exercise under way: task, hints, checks (when there is one)
//!  status: lab, build step x/y, capture, packets, evicted, notes
//!  key hints (from the binding table)
//! ```
//!
//! Overlays (help, packet details) are drawn over the panes; prompts on the status line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::model::{Mode, Model};
use super::render;
use super::style::Theme;
use super::topology::desired_height;

/// The rectangle of every region of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The whole screen.
    pub full: Rect,
    /// Topology pane.
    pub topology: Rect,
    /// Tables pane.
    pub tables: Rect,
    /// Packets pane.
    pub packets: Rect,
    /// Journey pane.
    pub journey: Rect,
    /// The exercise strip (no rows when no exercise is shown).
    pub exercise: Rect,
    /// Status line.
    pub status: Rect,
    /// Key hints.
    pub hints: Rect,
}

impl Areas {
    /// The layout of `m`'s screen (its size and topology).
    pub fn new(m: &Model) -> Self {
        let full = Rect::new(0, 0, m.size.0, m.size.1);
        let topo_h = desired_height(&m.topo, full.width)
            .min(full.height * 45 / 100)
            .max(5);
        let exercise_h = m
            .exercise
            .as_ref()
            .map_or(0, |v| render::exercise::height(v, full.width))
            .min(full.height / 4);
        let [topology, bottom, exercise, status, hints] = Layout::vertical([
            Constraint::Length(topo_h),
            Constraint::Min(6),
            Constraint::Length(exercise_h),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(full);
        let [tables, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(bottom);
        let [packets, journey] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(right);
        Self {
            full,
            topology,
            tables,
            packets,
            journey,
            exercise,
            status,
            hints,
        }
    }

    /// Packet rows the packet list shows (inside its border, below its header).
    pub fn packet_rows(&self) -> usize {
        usize::from(self.packets.height.saturating_sub(3))
    }

    /// Table rows the Tables pane shows (inside its border, below tabs and header).
    pub fn table_rows(&self) -> usize {
        usize::from(self.tables.height.saturating_sub(4))
    }

    /// The packet list's first row on screen.
    pub fn packet_list_top(&self) -> u16 {
        self.packets.y + 2
    }
}

/// A rectangle of `w` by `h` centred in `r` (clipped to it).
pub fn centered(r: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(r.width);
    let h = h.min(r.height);
    Rect::new(r.x + (r.width - w) / 2, r.y + (r.height - h) / 2, w, h)
}

/// Draws the whole panel. Reads the model, changes nothing.
pub fn view(m: &Model, f: &mut Frame) {
    let a = Areas::new(m);
    let theme = Theme::new(m.color);
    render::topology::render(f, a.topology, m, theme);
    render::tables::render(f, a.tables, m, theme);
    render::packets::render(f, a.packets, m, theme, a.packet_rows());
    render::journey::render(f, a.journey, m, theme);
    if let Some(v) = &m.exercise
        && a.exercise.height > 0
    {
        render::exercise::render(f, a.exercise, v, theme);
    }
    render::status::render(f, a.status, m, theme);
    render::status::render_hints(f, a.hints, m, theme);
    match &m.mode {
        Mode::Help => render::help::render(f, a.full, theme),
        Mode::Detail { seq, scroll } => render::detail::render(f, a.full, m, *seq, *scroll, theme),
        Mode::Normal | Mode::Prompt(_) => {}
    }
}
