//! Journeys as text tables for the terminal.

use std::fmt::Write as _;

use super::journey::Journey;

/// One journey as a table: hop number, time since the first hop, time since the previous
/// one, where, and what changed.
pub fn journey_table(n: usize, j: &Journey) -> String {
    let mut s = String::new();
    let total = j
        .hops
        .last()
        .zip(j.hops.first())
        .map_or(0, |(l, f)| l.ts_ns.saturating_sub(f.ts_ns));
    let _ = writeln!(s, "Journey {n}: {}", j.summary);
    let _ = writeln!(
        s,
        "  {} hops over {:.3} ms — {}",
        j.hops.len(),
        ns_ms(total),
        j.verdict
    );
    let _ = writeln!(
        s,
        "  {:>3} {:>9} {:>8}  {:<22} {:<15} {:<3}  what happened",
        "#", "t (ms)", "+Δ (µs)", "node", "interface", "dir"
    );
    let t0 = j.hops.first().map_or(0, |h| h.ts_ns);
    for (i, h) in j.hops.iter().enumerate() {
        let delta = h
            .delta_ns
            .map(|d| format!("{:.1}", us(d)))
            .unwrap_or_default();
        let what = if i == 0 {
            h.summary.clone()
        } else {
            h.changes.join("; ")
        };
        let _ = writeln!(
            s,
            "  {:>3} {:>9.3} {:>8}  {:<22} {:<15} {:<3}  {what}",
            i + 1,
            ns_ms(h.ts_ns.saturating_sub(t0)),
            delta,
            h.node,
            h.iface,
            h.dir.as_str()
        );
    }
    s
}

/// Every journey, one table each.
pub fn journeys_text(journeys: &[Journey]) -> String {
    journeys
        .iter()
        .enumerate()
        .map(|(i, j)| journey_table(i + 1, j))
        .collect::<Vec<_>>()
        .join("\n")
}

#[expect(clippy::cast_precision_loss, reason = "display of durations")]
fn ns_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[expect(clippy::cast_precision_loss, reason = "display of durations")]
fn us(ns: i64) -> f64 {
    ns as f64 / 1e3
}
