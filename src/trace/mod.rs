//! Hop-by-hop correlation: recognise the same packet at every capture point and order
//! its sightings into a journey, saying what changed at each hop.
//!
//! Pure: works on captured frames and a [`Topology`] (which interfaces are wired to which),
//! so it runs the same on a live capture and on files read back.

mod journey;
mod render;
mod topology;

pub use journey::{Hop, Journey, correlate};
pub use render::{journey_table, journeys_text};
pub use topology::Topology;

#[cfg(test)]
mod tests;
