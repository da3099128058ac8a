//! One module per screen region, each with `render(frame, area, &model, …)`; they read the
//! model and draw, nothing else. The layout is in [`super::layout`].

pub mod detail;
pub mod exercise;
pub mod help;
pub mod journey;
pub mod packets;
pub mod status;
pub mod tables;
pub mod topology;
