//! The live panel (`vxlab ui`): a lab's topology, its kernel tables as they change, the
//! packets crossing it and their hop-by-hop journeys, in one terminal screen.
//!
//! Built the Elm way (ratatui's async example, oha's monitor): every input is a [`Msg`] on
//! one channel; [`update`] is a pure function of the [`Model`] and a message that returns
//! the side effects to run ([`Cmd`]); [`view`] only draws. The effects that touch the kernel
//! (netlink watchers, capture, the builder, pings) live in [`live`], behind the
//! [`Effects`] trait, so the panel runs on synthetic messages in tests and benchmarks.
//!
//! What it does not hold: the terminal setup and the command line (`src/cmd/ui.rs`).

mod app;
pub mod bench;
mod decide;
mod diff;
mod exercise;
mod input;
pub mod keys;
mod layout;
pub mod live;
mod model;
mod msg;
pub mod netfilter;
mod packets;
mod render;
mod rows;
mod style;
mod topology;
mod update;
mod watch;

pub use app::{Effects, run};
pub use decide::{Decision, decisions};
pub use diff::{Change, LiveRow, LiveTable};
pub use exercise::ExerciseView;
pub use layout::{Areas, view};
pub use model::{
    Build, CaptureState, Focus, JourneyState, Mode, Model, Phase, Prompt, Purpose, Tab,
};
pub use msg::{Cmd, Msg};
pub use netfilter::{NftRule, Polled};
pub use packets::{Captured, PacketBuffer, RING_CAPACITY};
pub use style::no_color_requested;
pub use topology::{NodeView, TopoView};
pub use update::{init, update};
