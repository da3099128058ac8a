//! What reaches the panel ([`Msg`]) and what it asks the outside world to do ([`Cmd`]).

use std::net::IpAddr;
use std::time::Duration;

use crossterm::event::{KeyEvent, MouseEvent};

use super::netfilter::Polled;
use crate::capture::{Frame, Point};
use crate::observe::Tables;

/// Every input of the panel, on one channel.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse was clicked, scrolled or moved.
    Mouse(MouseEvent),
    /// The terminal is now this many columns and rows.
    Resize(u16, u16),
    /// Time passed: the panel's clock (time since it started) is now this.
    Tick(Duration),
    /// A fresh dump of one node's tables.
    Tables {
        /// Node id.
        node: String,
        /// Its tables.
        tables: Tables,
    },
    /// A node's tables could not be read.
    TablesFailed {
        /// Node id.
        node: String,
        /// Why.
        error: String,
    },
    /// A poll of the selected node's rules, IPVS services and conntrack table.
    Polled {
        /// Node id.
        node: String,
        /// What was read.
        polled: Box<Polled>,
    },
    /// Capture started on these points (indexed by [`Frame::point`]).
    CaptureStarted {
        /// The points.
        points: Vec<Point>,
        /// Points that could not be opened, with the reason.
        failed: Vec<String>,
    },
    /// The capture's drop counters, summed over every point.
    CaptureDrops(u64),
    /// Capture could not start.
    CaptureFailed(String),
    /// Frames captured since the last batch.
    Frames(Vec<Frame>),
    /// Build step `step` (1-based) of `total` is about to be applied.
    BuildStep {
        /// 1-based step number.
        step: usize,
        /// Number of steps.
        total: usize,
    },
    /// Build step `step` (1-based) was applied.
    OpDone {
        /// 1-based step number.
        step: usize,
    },
    /// The build finished: `Ok`, or the error after everything was rolled back.
    BuildDone(Result<(), String>),
    /// A ping sent with [`Cmd::Ping`] finished.
    PingDone {
        /// Node it was sent from.
        node: String,
        /// Target address.
        target: IpAddr,
        /// First packet sequence number captured after it was sent.
        since: u64,
        /// `Ok` if a reply came back, else what went wrong.
        result: Result<(), String>,
    },
    /// The lab's exercise progress changed (or was read for the first time).
    Exercise(Box<crate::fault::exercise::Progress>),
    /// Leave the panel (a signal).
    Quit,
}

/// A side effect asked for by [`update`](super::update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// Leave the panel.
    Quit,
    /// Start building the lab (one step at a time with [`Cmd::Step`] if `stepwise`).
    Build {
        /// Wait for a [`Cmd::Step`] before each operation.
        stepwise: bool,
    },
    /// Apply the next build operation (`--step`).
    Step,
    /// Watch a node's tables: dump them now and on every netlink notification.
    Watch {
        /// Node id.
        node: String,
        /// Its namespace.
        netns: String,
    },
    /// Poll a node's rules, IPVS services and conntrack table (the selected node: it
    /// replaces the node polled before).
    Poll {
        /// Node id.
        node: String,
        /// Its namespace.
        netns: String,
    },
    /// Capture on every interface of the lab.
    StartCapture,
    /// Follow the lab's exercise progress.
    WatchExercises,
    /// Send one ping from a node.
    Ping {
        /// Node id.
        node: String,
        /// Its namespace.
        netns: String,
        /// Target.
        target: IpAddr,
        /// Packet sequence number at the time of sending.
        since: u64,
    },
}
