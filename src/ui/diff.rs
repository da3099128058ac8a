//! Tables that remember what changed: each new dump is compared with the rows shown, and
//! rows added, changed or removed are marked with the time of the change. Removed rows
//! stay visible (struck out) for [`REMOVED_FOR`], marks fade after [`FADE_AFTER`].

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::rows::Row;

/// A mark shows at full strength this long.
pub const FRESH_FOR: Duration = Duration::from_millis(1500);
/// A mark fades out after this long.
pub const FADE_AFTER: Duration = Duration::from_secs(4);
/// A removed row stays on screen this long.
pub const REMOVED_FOR: Duration = Duration::from_secs(6);

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It appeared.
    Added,
    /// Some cell changed.
    Changed,
    /// It disappeared.
    Removed,
}

impl Change {
    /// One-character marker shown before the row (readable without colour).
    pub fn marker(self) -> char {
        match self {
            Self::Added => '+',
            Self::Changed => '~',
            Self::Removed => '-',
        }
    }
}

/// How strongly a mark shows at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Just happened.
    Fresh,
    /// Fading out.
    Fading,
    /// Over (a removed row still shown, struck out).
    Lingering,
    /// Gone.
    None,
}

/// A row and its latest change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    /// The row.
    pub row: Row,
    /// What changed and when (panel clock).
    pub mark: Option<(Change, Duration)>,
}

impl LiveRow {
    /// The mark's strength at time `now`.
    pub fn strength(&self, now: Duration) -> Strength {
        let Some((change, at)) = self.mark else {
            return Strength::None;
        };
        let age = now.saturating_sub(at);
        if age < FRESH_FOR {
            Strength::Fresh
        } else if age < FADE_AFTER {
            Strength::Fading
        } else if change == Change::Removed && age < REMOVED_FOR {
            Strength::Lingering
        } else {
            Strength::None
        }
    }
}

/// The rows of one table of one namespace, with their changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveTable {
    /// Rows in display order, removed ones included while they linger.
    pub rows: Vec<LiveRow>,
}

impl LiveTable {
    /// Takes a new dump. With `first`, nothing is marked (the first dump is no change).
    pub fn merge(&mut self, fresh: Vec<Row>, now: Duration, first: bool) {
        self.merge_volatile(fresh, now, first, &[]);
    }

    /// The same, where a change in cells `volatile` of a row (a countdown) does not mark
    /// it changed; the new values are shown all the same.
    pub fn merge_volatile(
        &mut self,
        fresh: Vec<Row>,
        now: Duration,
        first: bool,
        volatile: &[usize],
    ) {
        let stable = |r: &Row| {
            r.cells
                .iter()
                .enumerate()
                .filter(|(i, _)| !volatile.contains(i))
                .map(|(_, c)| c.clone())
                .collect::<Vec<_>>()
        };
        let old: HashMap<&str, &LiveRow> =
            self.rows.iter().map(|r| (r.row.key.as_str(), r)).collect();
        let mut out: Vec<LiveRow> = fresh
            .into_iter()
            .map(|row| {
                let mark = match old.get(row.key.as_str()) {
                    _ if first => None,
                    None => Some((Change::Added, now)),
                    Some(o) if stable(&o.row) != stable(&row) => Some((Change::Changed, now)),
                    Some(o) if matches!(o.mark, Some((Change::Removed, _))) => {
                        Some((Change::Added, now))
                    }
                    Some(o) => o.mark,
                };
                LiveRow { row, mark }
            })
            .collect();
        let present: HashSet<String> = out.iter().map(|r| r.row.key.clone()).collect();
        // Removed rows go back after the row they followed, so they are seen where they were.
        let mut after: Option<String> = None;
        let mut gone: Vec<(Option<String>, LiveRow)> = Vec::new();
        for r in &self.rows {
            if present.contains(&r.row.key) {
                after = Some(r.row.key.clone());
            } else {
                let mark = match r.mark {
                    Some((Change::Removed, at)) => (Change::Removed, at),
                    _ => (Change::Removed, now),
                };
                gone.push((
                    after.clone(),
                    LiveRow {
                        row: r.row.clone(),
                        mark: Some(mark),
                    },
                ));
            }
        }
        for (prev, row) in gone.into_iter().rev() {
            let at = prev
                .and_then(|k| out.iter().position(|r| r.row.key == k))
                .map_or(0, |i| i + 1);
            out.insert(at, row);
        }
        self.rows = out;
        self.expire(now);
    }

    /// Drops removed rows that have lingered long enough.
    pub fn expire(&mut self, now: Duration) {
        self.rows.retain(|r| {
            !(matches!(r.mark, Some((Change::Removed, _))) && r.strength(now) == Strength::None)
        });
    }

    /// Whether any mark would look different at `now` than at `before`.
    pub fn fades_between(&self, before: Duration, now: Duration) -> bool {
        self.rows
            .iter()
            .any(|r| r.mark.is_some() && r.strength(before) != r.strength(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(k: &str, v: &str) -> Row {
        Row {
            key: k.into(),
            cells: vec![k.into(), v.into()],
        }
    }

    #[test]
    fn marks_added_changed_removed_and_expires() {
        let mut t = LiveTable::default();
        t.merge(
            vec![row("a", "1"), row("b", "1"), row("c", "1")],
            Duration::ZERO,
            true,
        );
        assert!(t.rows.iter().all(|r| r.mark.is_none()));
        let now = Duration::from_secs(10);
        t.merge(
            vec![row("a", "2"), row("c", "1"), row("d", "1")],
            now,
            false,
        );
        let marks: Vec<(&str, Option<Change>)> = t
            .rows
            .iter()
            .map(|r| (r.row.key.as_str(), r.mark.map(|m| m.0)))
            .collect();
        assert_eq!(
            marks,
            [
                ("a", Some(Change::Changed)),
                ("b", Some(Change::Removed)),
                ("c", None),
                ("d", Some(Change::Added)),
            ]
        );
        assert_eq!(t.rows[1].strength(now), Strength::Fresh);
        assert_eq!(t.rows[1].strength(now + FRESH_FOR), Strength::Fading);
        assert_eq!(t.rows[1].strength(now + FADE_AFTER), Strength::Lingering);
        assert!(t.fades_between(now, now + FRESH_FOR));
        t.expire(now + REMOVED_FOR);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.rows[0].strength(now + REMOVED_FOR), Strength::None);
    }

    #[test]
    fn volatile_cells_change_without_marking_the_row() {
        let mut t = LiveTable::default();
        t.merge(vec![row("a", "30s")], Duration::ZERO, true);
        t.merge_volatile(vec![row("a", "29s")], Duration::from_secs(1), false, &[1]);
        assert_eq!(t.rows[0].mark, None);
        assert_eq!(t.rows[0].row.cells[1], "29s");
    }

    #[test]
    fn a_removed_row_that_comes_back_is_added() {
        let mut t = LiveTable::default();
        t.merge(vec![row("a", "1")], Duration::ZERO, true);
        t.merge(vec![], Duration::from_secs(1), false);
        assert_eq!(t.rows[0].mark.map(|m| m.0), Some(Change::Removed));
        t.merge(vec![row("a", "1")], Duration::from_secs(2), false);
        assert_eq!(
            t.rows[0].mark,
            Some((Change::Added, Duration::from_secs(2)))
        );
    }
}
