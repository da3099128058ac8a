//! `vxlab faults`, `vxlab break`, `vxlab fix` and `vxlab exercise`: list a lab's faults,
//! plant one, undo it; work through the lab's exercises.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use vxlab::fault::exercise::{self, Outcome};
use vxlab::fault::{self, record};
use vxlab::kernel::Netlink;
use vxlab::lifecycle;
use vxlab::model::Lab;

use super::lab_cmds::runtime;
use super::load::{require_root, running};

/// `vxlab faults LAB`
#[derive(Args)]
pub struct FaultsArgs {
    /// A lab that is up, a scenario file or a built-in lab.
    lab: String,
    /// Also say what each fault changes (the cause: a spoiler for students).
    #[arg(long)]
    reveal: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// `vxlab break LAB FAULT`
#[derive(Args)]
pub struct BreakArgs {
    /// A lab that is up.
    lab: String,
    /// The fault to plant (see `vxlab faults LAB`).
    fault: String,
    /// Say what was changed (a spoiler for students).
    #[arg(long)]
    reveal: bool,
}

/// `vxlab fix LAB FAULT`
#[derive(Args)]
pub struct FixArgs {
    /// A lab that is up.
    lab: String,
    /// The planted fault to undo.
    #[arg(required_unless_present = "all")]
    fault: Option<String>,
    /// Undo every planted fault of the lab.
    #[arg(long, conflicts_with = "fault")]
    all: bool,
}

fn lab_of(arg: &str) -> Result<Lab> {
    Ok(running(arg)?.lab)
}

/// The kernel backend for changing running lab `lab`: processes it starts again log
/// where `up` made them log.
fn kernel(lab: &Lab) -> Netlink {
    let mut nl = Netlink::new();
    nl.log_dir = Some(lifecycle::state_dir(&lab.name));
    nl
}

/// `vxlab faults`
pub fn faults(a: &FaultsArgs) -> Result<ExitCode> {
    let lab = lab_of(&a.lab)?;
    let planted = record::planted(&lab.name);
    if a.json {
        let rows: Vec<serde_json::Value> = lab
            .faults
            .iter()
            .map(|f| {
                let mut v = serde_json::json!({
                    "name": f.name, "description": f.description,
                    "planted": planted.contains(&f.name),
                });
                if a.reveal {
                    v["action"] = serde_json::to_value(&f.action).unwrap_or_default();
                    v["what"] = f.action.to_string().into();
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if lab.faults.is_empty() {
        println!(
            "lab `{}` declares no faults ([[fault]] in its scenario)",
            lab.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "faults of lab `{}` (plant one with `vxlab break {} NAME`):",
        lab.name, lab.name
    );
    for f in &lab.faults {
        let mark = if planted.contains(&f.name) {
            " [PLANTED]"
        } else {
            ""
        };
        println!("\n  {}{mark}", f.name);
        for line in wrap(&f.description, 84) {
            println!("      {line}");
        }
        if a.reveal {
            println!("      cause: {}", f.action);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for w in text.split_whitespace() {
        let last = lines.last_mut().expect("never empty");
        if !last.is_empty() && last.len() + 1 + w.len() > width {
            lines.push(w.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(w);
        }
    }
    lines
}

/// `vxlab break`
pub fn break_fault(a: &BreakArgs) -> Result<ExitCode> {
    require_root("break")?;
    let lab = lab_of(&a.lab)?;
    let rt = runtime()?;
    let rec = rt.block_on(fault::plant(&lab, &a.fault, &mut kernel(&lab)))?;
    let f = fault::find(&lab, &a.fault)?;
    println!("planted fault `{}` in lab `{}`.", f.name, lab.name);
    for line in wrap(&f.description, 90) {
        println!("  {line}");
    }
    if a.reveal {
        println!("changed:");
        for c in &rec.changes {
            println!("  {c}");
        }
    }
    println!(
        "find it with `vxlab doctor {}`; undo it with `vxlab fix {} {}`",
        lab.name, lab.name, f.name
    );
    Ok(ExitCode::SUCCESS)
}

/// `vxlab fix`
pub fn fix_fault(a: &FixArgs) -> Result<ExitCode> {
    require_root("fix")?;
    let lab = lab_of(&a.lab)?;
    let names = match (&a.fault, a.all) {
        (Some(f), _) => vec![f.clone()],
        (None, true) => record::planted(&lab.name),
        (None, false) => bail!("name a fault, or --all"),
    };
    if names.is_empty() {
        println!("no fault of lab `{}` is planted", lab.name);
    }
    let rt = runtime()?;
    let mut nl = kernel(&lab);
    for name in names {
        let rec = rt.block_on(fault::fix(&lab, &name, &mut nl))?;
        println!(
            "fixed `{name}` in lab `{}` ({}); put back:",
            lab.name, rec.action
        );
        for u in rec.undo.iter().rev() {
            for c in u.commands() {
                println!("  {c}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `vxlab exercise LAB [--check | --hint | --give-up | --grade | --reset]`
#[derive(Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "mutually exclusive flags of one command (a clap ArgGroup)"
)]
#[command(group(clap::ArgGroup::new("what").args(["check", "hint", "give_up", "grade", "reset"])))]
pub struct ExerciseArgs {
    /// A lab that is up.
    lab: String,
    /// Check whether the lab works again; the exercise passes if it does.
    #[arg(long)]
    check: bool,
    /// Show the next hint.
    #[arg(long)]
    hint: bool,
    /// Give up: put the lab back as it was (`vxlab fix`) and move on.
    #[arg(long)]
    give_up: bool,
    /// Show every exercise's result.
    #[arg(long)]
    grade: bool,
    /// Forget the progress (planted faults stay planted: `vxlab fix --all`).
    #[arg(long)]
    reset: bool,
}

fn grade(lab: &Lab) -> Result<ExitCode> {
    let p = exercise::load(&lab.name)?;
    let passed = p
        .results
        .values()
        .filter(|o| **o == Outcome::Passed)
        .count();
    println!(
        "exercises of lab `{}`: {passed}/{} passed",
        lab.name,
        lab.exercises.len()
    );
    for x in &lab.exercises {
        let state = match (p.results.get(&x.name), p.current.as_ref() == Some(&x.name)) {
            (Some(Outcome::Passed), _) => "passed",
            (Some(Outcome::GaveUp), _) => "given up",
            (None, true) => "under way",
            (None, false) => "not started",
        };
        let hints = p.hints.get(&x.name).copied().unwrap_or(0);
        let hints = if hints > 0 {
            format!(" ({hints} hint{})", if hints == 1 { "" } else { "s" })
        } else {
            String::new()
        };
        println!("  {:<24} {state}{hints}", x.name);
    }
    Ok(if passed == lab.exercises.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `vxlab exercise`: start (or show) the next exercise, check it, hint, give up, grade.
pub fn exercise_cmd(a: &ExerciseArgs) -> Result<ExitCode> {
    require_root("exercise")?;
    let lab = lab_of(&a.lab)?;
    if lab.exercises.is_empty() {
        bail!(
            "lab `{}` has no exercises ([[exercise]] in its scenario)",
            lab.name
        );
    }
    if a.grade {
        return grade(&lab);
    }
    if a.reset {
        exercise::reset(&lab.name)?;
        println!("progress of lab `{}` forgotten", lab.name);
        return Ok(ExitCode::SUCCESS);
    }
    if a.hint {
        match exercise::hint(&lab)? {
            Some((n, h)) => println!("hint {n}: {h}"),
            None => println!("no more hints (or no exercise under way)"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rt = runtime()?;
    let mut nl = kernel(&lab);
    if a.give_up {
        if let Some(x) = rt.block_on(exercise::give_up(&lab, &mut nl))? {
            let f = fault::find(&lab, &x.fault)?;
            println!(
                "gave up `{}`; the lab is repaired. The cause was: {}",
                x.name, f.action
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.check {
        return match exercise::check_current(&lab)? {
            None => {
                println!(
                    "no exercise under way: `vxlab exercise {}` starts the next one",
                    lab.name
                );
                Ok(ExitCode::from(1))
            }
            Some((x, true)) => {
                println!(
                    "`{}` passed: {} from {} works again. `vxlab exercise {}` for the next one.",
                    x.name, x.check, x.from, lab.name
                );
                Ok(ExitCode::SUCCESS)
            }
            Some((x, false)) => {
                println!("not yet: {} from {} still fails", x.check, x.from);
                Ok(ExitCode::from(1))
            }
        };
    }
    match rt.block_on(exercise::start(&lab, &mut nl))? {
        None => grade(&lab),
        Some(x) => {
            let n = lab
                .exercises
                .iter()
                .position(|e| e.name == x.name)
                .unwrap_or(0)
                + 1;
            println!(
                "exercise {n}/{} of lab `{}`: {}",
                lab.exercises.len(),
                lab.name,
                x.name
            );
            for line in wrap(&x.task, 90) {
                println!("  {line}");
            }
            println!(
                "\nit passes when {} from {} works. Then: vxlab exercise {} --check",
                x.check, x.from, lab.name
            );
            println!("stuck? --hint ({} available), or --give-up", x.hints.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
