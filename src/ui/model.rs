//! Everything the panel knows: the lab, the build's progress, each node's tables, the
//! packet buffer, the journey being walked, and the modes of the screen.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::diff::LiveTable;
use super::netfilter::Polled;
use super::packets::PacketBuffer;
pub use super::rows::Tab;
use super::topology::TopoView;
use crate::capture::Point;
use crate::doctor::NodeState;
use crate::model::Lab;
use crate::plan::{Op, plan};
use crate::trace::{Journey, Topology};

/// A lab being built by the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// The equivalent command of each operation, in order.
    pub commands: Vec<String>,
    /// The namespace each operation creates, if it creates one.
    pub creates: Vec<Option<String>>,
    /// Operations applied.
    pub done: usize,
    /// The operation being applied (0-based), if one is.
    pub running: Option<usize>,
    /// One operation per key press (`--step`).
    pub stepwise: bool,
}

impl Build {
    /// The build of `lab`'s plan.
    pub fn of_lab(lab: &Lab, stepwise: bool) -> Self {
        let ops = plan(lab);
        Self {
            commands: ops.iter().map(Op::command).collect(),
            creates: ops
                .iter()
                .map(|op| match op {
                    Op::AddNetns { netns } => Some(netns.clone()),
                    _ => None,
                })
                .collect(),
            done: 0,
            running: None,
            stepwise,
        }
    }

    /// Whether the builder waits for a key press before the next operation.
    pub fn awaiting_key(&self) -> bool {
        self.stepwise && self.running.is_none() && self.done < self.commands.len()
    }
}

/// Where the lab stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// It was up when the panel attached; quitting leaves it up.
    Attached,
    /// The panel is building it.
    Building(Build),
    /// The panel built it.
    Built,
    /// The build failed; everything was rolled back.
    Failed(String),
}

/// What the capture is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureState {
    /// Not started (the lab is not built yet).
    Off,
    /// Asked for, not running yet.
    Starting,
    /// Capturing; the points that could not be opened are listed.
    Running {
        /// Why some points are not captured.
        failed: Vec<String>,
        /// Frames lost so far: libpcap's buffer (`ps_drop`) plus the interfaces'.
        dropped: u64,
    },
    /// Could not start.
    Failed(String),
}

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The topology: arrows select a node.
    Topology,
    /// The tables: arrows scroll and change tabs.
    Tables,
    /// The packet list: arrows select a packet.
    Packets,
    /// The journey: arrows walk its hops.
    Journey,
}

impl Focus {
    /// Every pane, in Tab order.
    pub const ALL: [Self; 4] = [Self::Topology, Self::Tables, Self::Packets, Self::Journey];

    /// The next (or previous, `back`) pane in Tab order.
    #[must_use]
    pub fn cycle(self, back: bool) -> Self {
        let i = Self::ALL.iter().position(|f| *f == self).unwrap_or(0);
        let n = Self::ALL.len();
        Self::ALL[if back { (i + n - 1) % n } else { (i + 1) % n }]
    }
}

/// What a prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Text that packets must contain.
    Filter,
    /// The address to ping from the selected node.
    Ping,
}

/// A line of text being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What it is for.
    pub purpose: Purpose,
    /// Text so far.
    pub text: String,
}

/// What the screen shows on top of the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The panes.
    Normal,
    /// The key help.
    Help,
    /// Every layer and the bytes of one packet.
    Detail {
        /// Packet number.
        seq: u64,
        /// Lines scrolled.
        scroll: u16,
    },
    /// A prompt on the status line.
    Prompt(Prompt),
}

/// A packet's journey (or a ping's two), and the hop being looked at.
#[derive(Debug, Clone)]
pub struct JourneyState {
    /// What it is the journey of.
    pub title: String,
    /// The journeys, in time order.
    pub journeys: Vec<Journey>,
    /// Packet number of each frame the journeys' [`Hop::frame`](crate::trace::Hop) index.
    pub seqs: Vec<u64>,
    /// Journey being walked.
    pub which: usize,
    /// Hop being looked at.
    pub hop: usize,
    /// Fingerprint of the packet it follows, if it follows one.
    pub key: Option<u64>,
}

impl JourneyState {
    /// The journey being walked.
    pub fn current(&self) -> Option<&Journey> {
        self.journeys.get(self.which)
    }

    /// The hop being looked at.
    pub fn current_hop(&self) -> Option<&crate::trace::Hop> {
        self.current()?.hops.get(self.hop)
    }
}

/// Tables of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeTables {
    /// One live table per tab, in [`Tab::ALL`] order.
    pub tabs: [LiveTable; 8],
    /// Dumps received.
    pub dumps: u64,
    /// Last error reading them.
    pub error: Option<String>,
    /// Polls of its netfilter state received (while it was selected).
    pub polls: u64,
    /// Why a polled tab could not be read at the last poll.
    pub poll_errors: HashMap<Tab, String>,
    /// Names and states of its links (from the last dump).
    pub links: HashMap<String, (bool, String)>,
    /// The last dump as read, for lookups (which route, neighbour, FDB entry decides).
    pub state: NodeState,
    /// The last poll as read.
    pub polled: Option<Box<Polled>>,
}

/// The whole state of the panel.
#[derive(Debug, Clone)]
pub struct Model {
    /// The lab.
    pub lab: Lab,
    /// Its topology as drawn.
    pub topo: TopoView,
    /// Its wiring, for hop correlation.
    pub wiring: Topology,
    /// Where the lab stands.
    pub phase: Phase,
    /// What is on top of the panes.
    pub mode: Mode,
    /// Pane with the keyboard.
    pub focus: Focus,
    /// Selected node (index into [`TopoView::nodes`]).
    pub selected: usize,
    /// Selected link (index into [`TopoView::links`]), when a link is selected rather
    /// than a node.
    pub link: Option<usize>,
    /// Tab of the Tables pane.
    pub tab: Tab,
    /// Rows scrolled in the Tables pane.
    pub table_scroll: usize,
    /// Columns scrolled sideways in the Tables pane.
    pub table_hscroll: usize,
    /// Tables by node id.
    pub tables: HashMap<String, NodeTables>,
    /// Nodes watched.
    pub watched: HashSet<String>,
    /// Node whose netfilter state is polled.
    pub polling: Option<String>,
    /// Captured packets.
    pub packets: PacketBuffer,
    /// Capture points, indexed by [`crate::capture::Frame::point`].
    pub points: Vec<Point>,
    /// Capture state.
    pub capture: CaptureState,
    /// The journey shown.
    pub journey: Option<JourneyState>,
    /// A ping in flight (its target).
    pub pinging: Option<String>,
    /// Panel clock: time since it started.
    pub now: Duration,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Whether to use colour (`NO_COLOR` unset).
    pub color: bool,
    /// Something changed since the last frame was drawn.
    pub dirty: bool,
    /// Last notice for the user (errors included).
    pub note: Option<String>,
    /// The exercise strip, while the lab has an exercise under way or finished.
    pub exercise: Option<super::exercise::ExerciseView>,
}

impl Model {
    /// The panel for `lab` in `phase`, `size` columns by rows.
    pub fn new(lab: Lab, phase: Phase, size: (u16, u16), color: bool) -> Self {
        Self::with_capacity(lab, phase, size, color, super::packets::RING_CAPACITY)
    }

    /// The same with a packet buffer of `capacity` frames.
    pub fn with_capacity(
        lab: Lab,
        phase: Phase,
        size: (u16, u16),
        color: bool,
        capacity: usize,
    ) -> Self {
        Self {
            topo: TopoView::of_lab(&lab),
            wiring: Topology::of_lab(&lab),
            lab,
            phase,
            mode: Mode::Normal,
            focus: Focus::Topology,
            selected: 0,
            link: None,
            tab: Tab::Links,
            table_scroll: 0,
            table_hscroll: 0,
            tables: HashMap::new(),
            watched: HashSet::new(),
            polling: None,
            packets: PacketBuffer::new(capacity),
            points: Vec::new(),
            capture: CaptureState::Off,
            journey: None,
            pinging: None,
            now: Duration::ZERO,
            size,
            color,
            dirty: true,
            note: None,
            exercise: None,
        }
    }

    /// The selected node.
    pub fn node(&self) -> Option<&super::topology::NodeView> {
        self.topo.nodes.get(self.selected)
    }

    /// The build, while building.
    pub fn build(&self) -> Option<&Build> {
        match &self.phase {
            Phase::Building(b) => Some(b),
            _ => None,
        }
    }

    /// Whether a key press would apply the next build step.
    pub fn stepping(&self) -> bool {
        self.build().is_some_and(Build::awaiting_key)
    }

    /// What the topology has selected: the link, if one is, else the node.
    pub fn target(&self) -> Option<super::topology::Target> {
        use super::topology::Target;
        match self.link {
            Some(l) => Some(Target::Link(l)),
            None => (self.selected < self.topo.nodes.len()).then_some(Target::Node(self.selected)),
        }
    }

    /// The node to highlight on the topology for the hop being walked.
    pub fn hop_node(&self) -> Option<usize> {
        let hop = self.journey.as_ref()?.current_hop()?;
        self.topo.index(&hop.node)
    }
}
