//! The exercise under way, as the panel shows it: its task, the hints revealed so far and
//! how its checks went, read from the lab's progress file (`vxlab exercise` in another
//! terminal writes it) every [`POLL`], and sent as [`Msg::Exercise`] when it changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::msg::Msg;
use crate::fault::exercise::{self, Outcome, Progress};
use crate::model::Lab;

/// Time between two reads of the progress file.
pub const POLL: Duration = Duration::from_secs(1);

/// What the exercise strip says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExerciseView {
    /// `exercise 2 of 3: name`, or that every exercise is finished.
    pub title: String,
    /// The task, if one is under way.
    pub task: Option<String>,
    /// Hints revealed so far, numbered.
    pub hints: Vec<String>,
    /// How its checks went, and what to run next.
    pub status: String,
    /// Whether the last word is good news.
    pub passed: bool,
}

impl ExerciseView {
    /// The strip for `lab` at progress `p`; `None` before the first exercise starts.
    pub fn of(lab: &Lab, p: &Progress) -> Option<Self> {
        let name = &lab.name;
        let total = lab.exercises.len();
        let done = |o: Outcome| p.results.values().filter(|r| **r == o).count();
        let score = format!(
            "{} of {total} passed, {} given up",
            done(Outcome::Passed),
            done(Outcome::GaveUp)
        );
        let Some(x) = exercise::current(lab, p) else {
            let last = lab
                .exercises
                .iter()
                .rev()
                .find(|x| p.results.contains_key(&x.name))?;
            let passed = p.results.get(&last.name) == Some(&Outcome::Passed);
            let next = if p.results.len() < total {
                format!("`vxlab exercise {name}` starts the next")
            } else {
                "all exercises done".into()
            };
            return Some(Self {
                title: format!(
                    "exercise {}: {} {}",
                    position(lab, &last.name),
                    last.name,
                    if passed { "✓ passed" } else { "given up" }
                ),
                task: None,
                hints: Vec::new(),
                status: format!("{score} · {next}"),
                passed,
            });
        };
        let shown = p.hints.get(&x.name).copied().unwrap_or(0);
        let hints = x
            .hints
            .iter()
            .take(shown)
            .enumerate()
            .map(|(i, h)| format!("hint {}: {h}", i + 1))
            .collect();
        let checks = match p.failed_checks.get(&x.name).copied().unwrap_or(0) {
            0 => "not checked yet".to_string(),
            1 => "last check failed".to_string(),
            n => format!("{n} checks failed"),
        };
        Some(Self {
            title: format!(
                "exercise {} of {total}: {} (under way)",
                position(lab, &x.name),
                x.name
            ),
            task: Some(x.task.clone()),
            hints,
            status: format!(
                "{checks} ({} from {} must work) · hints {shown}/{} · {score} · `vxlab exercise {name} --check | --hint | --give-up`",
                x.check,
                x.from,
                x.hints.len()
            ),
            passed: false,
        })
    }
}

fn position(lab: &Lab, name: &str) -> usize {
    lab.exercises
        .iter()
        .position(|x| x.name == name)
        .map_or(0, |i| i + 1)
}

/// Reads lab `lab`'s progress every [`POLL`] on a new thread and sends it when it changes,
/// until `stop` is set or `tx` closes.
pub fn watch(lab: crate::model::LabName, tx: UnboundedSender<Msg>, stop: Arc<AtomicBool>) {
    let started = std::thread::Builder::new()
        .name("exercise watch".into())
        .spawn(move || {
            let mut last: Option<Progress> = None;
            while !stop.load(Ordering::Relaxed) && !tx.is_closed() {
                if let Ok(p) = exercise::load(&lab)
                    && last.as_ref() != Some(&p)
                {
                    last = Some(p.clone());
                    if tx.send(Msg::Exercise(Box::new(p))).is_err() {
                        break;
                    }
                }
                std::thread::sleep(POLL);
            }
        });
    if let Err(e) = started {
        eprintln!("vxlab: cannot watch the exercises: {e}");
    }
}
