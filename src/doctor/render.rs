//! The doctor's report as text for the terminal.

use std::fmt::Write as _;

use super::Report;

/// The report: each finding with its evidence and fix, then the notes.
pub fn report_text(r: &Report, nodes: usize) -> String {
    let mut s = String::new();
    match r.findings.len() {
        0 => {
            let _ = writeln!(
                s,
                "doctor: lab {}: no problem found ({nodes} namespaces checked)",
                r.lab
            );
        }
        n => {
            let _ = writeln!(
                s,
                "doctor: lab {}: {n} problem{} found ({nodes} namespaces checked)",
                r.lab,
                if n == 1 { "" } else { "s" }
            );
        }
    }
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(s, "\n{}. [{}] {}", i + 1, f.rule, f.message);
        if !f.evidence.is_empty() {
            let _ = writeln!(s, "   evidence:");
            for e in &f.evidence {
                let _ = writeln!(s, "     {e}");
            }
        }
        if !f.fix.is_empty() {
            let _ = writeln!(s, "   fix:");
            for c in &f.fix {
                let _ = writeln!(s, "     {c}");
            }
        }
    }
    if !r.notes.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for n in &r.notes {
            let _ = writeln!(s, "  - {n}");
        }
    }
    s
}
