//! The panel's loop, generic over the terminal backend: wait for a terminal event, a
//! message or the clock; drain the queue through [`update`]; run the effects asked for;
//! draw at most [`FRAME`] apart, and only when something changed.

use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{MissedTickBehavior, interval};

use super::layout::view;
use super::model::Model;
use super::msg::{Cmd, Msg};
use super::update::{init, update};

/// Shortest time between two frames (about 30 per second).
pub const FRAME: Duration = Duration::from_millis(33);
/// How often the clock ticks (fading highlights follow it).
pub const TICK: Duration = Duration::from_millis(250);

/// Runs the effects [`update`] asks for.
pub trait Effects {
    /// Starts `cmd`; its results come back later as messages.
    fn run(&mut self, cmd: Cmd);
}

/// Runs the panel until a [`Cmd::Quit`]: `events` are the terminal's, `rx` carries every
/// other message (from the effects). Starts with the effects of [`init`].
pub async fn run<B, E, S>(
    terminal: &mut Terminal<B>,
    model: &mut Model,
    mut events: S,
    mut rx: UnboundedReceiver<Msg>,
    effects: &mut E,
) -> Result<(), B::Error>
where
    B: Backend,
    E: Effects,
    S: Stream<Item = Msg> + Unpin,
{
    let start = Instant::now();
    for cmd in init(model) {
        effects.run(cmd);
    }
    let mut frame = interval(FRAME);
    frame.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut tick = interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut queue = Vec::new();
    loop {
        tokio::select! {
            Some(ev) = events.next() => queue.push(ev),
            Some(msg) = rx.recv() => queue.push(msg),
            _ = tick.tick() => queue.push(Msg::Tick(start.elapsed())),
            _ = frame.tick(), if model.dirty => {
                terminal.draw(|f| view(model, f))?;
                model.dirty = false;
                continue;
            }
        }
        while let Ok(msg) = rx.try_recv() {
            queue.push(msg);
        }
        for msg in queue.drain(..) {
            for cmd in update(model, msg) {
                if cmd == Cmd::Quit {
                    return Ok(());
                }
                effects.run(cmd);
            }
        }
    }
}
