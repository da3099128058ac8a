//! `vxlab ui` (and `vxlab` alone): the live panel on a real terminal; and `vxlab bench-ui`.

use std::io::{Write, stdout};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use tokio::sync::mpsc::unbounded_channel;
use vxlab::kernel::Netlink;
use vxlab::ui::live::{CaptureReport, Live, terminal_events};
use vxlab::ui::{Build, Model, Phase, no_color_requested, run};
use vxlab::{labs, lifecycle};

use super::lab_cmds::{for_this_kernel, runtime};
use super::load::{lab_name, load, require_root, running_lab};

/// `vxlab ui [LAB] [--step] [--keep]`
#[derive(Args)]
pub struct UiArgs {
    /// Scenario file, built-in lab name, or the name of a lab that is up.
    #[arg(default_value = labs::DEFAULT)]
    lab: String,
    /// Build the lab one operation at a time, on a key press (s or Enter), showing each
    /// operation's equivalent command.
    #[arg(long)]
    step: bool,
    /// Leave the lab up on quit. (A lab that was already up when the panel opened is
    /// always left up.)
    #[arg(long)]
    keep: bool,
    /// Node selected when the panel opens, e.g. `hostA/sandbox_2`.
    #[arg(long, value_name = "NODE")]
    node: Option<String>,
}

impl UiArgs {
    /// The arguments of `vxlab` alone: the default lab.
    pub fn default_lab() -> Self {
        Self {
            lab: labs::DEFAULT.to_string(),
            step: false,
            keep: false,
            node: None,
        }
    }
}

/// `vxlab bench-ui`
#[derive(Args)]
pub struct BenchUiArgs {
    /// Packets in the buffer.
    #[arg(long, default_value_t = vxlab::ui::RING_CAPACITY)]
    packets: usize,
    /// Frames drawn per measurement.
    #[arg(long, default_value_t = 200)]
    frames: usize,
}

/// `vxlab bench-ui`
pub fn bench_ui(a: &BenchUiArgs) -> Result<ExitCode> {
    let l = load(labs::DEFAULT)?;
    print!("{}", vxlab::ui::bench::run(l.lab, a.packets, a.frames));
    Ok(ExitCode::SUCCESS)
}

/// Restores the terminal on panic too: mouse capture off, then ratatui's own restore
/// (raw mode off, main screen back), then the usual panic message.
fn restore_on_panic() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableMouseCapture);
        hook(info);
    }));
}

/// `vxlab ui`
pub fn ui(a: &UiArgs) -> Result<ExitCode> {
    require_root("ui")?;
    let name = lab_name(&a.lab)?;
    let attached = !lifecycle::namespaces_of(&name).is_empty();
    let (loaded, phase) = if attached {
        if a.step {
            bail!(
                "lab `{name}` is already up; --step builds a lab from nothing: run `vxlab down {name}` first"
            );
        }
        (running_lab(&name)?, Phase::Attached)
    } else {
        let mut l = load(&a.lab)?;
        l.lab = for_this_kernel(l.lab);
        let build = Build::of_lab(&l.lab, a.step);
        (l, Phase::Building(build))
    };
    let lab = loaded.lab;
    let mut model = Model::new(lab.clone(), phase, (80, 24), !no_color_requested());
    if let Some(n) = &a.node {
        let Some(i) = model.topo.index(n) else {
            let nodes: Vec<&str> = model.topo.nodes.iter().map(|n| n.id.as_str()).collect();
            bail!(
                "lab `{name}` has no node `{n}`; its nodes: {}",
                nodes.join(", ")
            );
        };
        model.selected = i;
    }
    let rt = runtime()?;
    let (tx, rx) = unbounded_channel();
    let mut live = Live::new(lab, loaded.text, tx);
    let mut terminal = ratatui::try_init().context("cannot set the terminal up")?;
    restore_on_panic();
    let _ = execute!(stdout(), EnableMouseCapture);
    if let Ok(s) = terminal.size() {
        model.size = (s.width, s.height);
    }
    let result = rt.block_on(async {
        live.quit_on_signals();
        run(&mut terminal, &mut model, terminal_events(), rx, &mut live).await
    });
    let report = live.shutdown();
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    // Dropping the runtime closes every netlink socket the panel had in the lab.
    drop(rt);
    result.context("cannot draw on the terminal")?;
    match &report {
        Some(r) => capture_summary(r),
        None if model.packets.next_seq() > 0 => eprintln!(
            "captured {} frames (per-interface drop counters unavailable: a capture point was still waiting for traffic)",
            model.packets.next_seq()
        ),
        None => {}
    }
    finish(a, &name, &model.phase)
}

fn capture_summary(r: &CaptureReport) {
    let (captured, dropped) = r.totals();
    eprintln!(
        "captured {captured} frames on {} points; dropped {dropped}",
        r.points.len()
    );
    for (p, s) in r.points.iter().zip(&r.stats) {
        if s.dropped + s.if_dropped > 0 {
            eprintln!(
                "  {p}: {} dropped by libpcap, {} by the interface",
                s.dropped, s.if_dropped
            );
        }
    }
}

/// Removes the lab if the panel built it (unless `--keep` and the build finished).
fn finish(a: &UiArgs, name: &vxlab::model::LabName, phase: &Phase) -> Result<ExitCode> {
    let mut err = std::io::stderr().lock();
    match phase {
        Phase::Attached => {
            let _ = writeln!(
                err,
                "lab `{name}` left up (it was up when the panel opened)"
            );
            return Ok(ExitCode::SUCCESS);
        }
        Phase::Failed(e) => {
            let _ = writeln!(err, "vxlab: lab `{name}`: {e}");
            return Ok(ExitCode::FAILURE);
        }
        Phase::Built if a.keep => {
            let _ = writeln!(
                err,
                "lab `{name}` left up (--keep); remove it with `vxlab down {name}`"
            );
            return Ok(ExitCode::SUCCESS);
        }
        Phase::Building(b) => {
            let _ = writeln!(
                err,
                "the build stopped at step {} of {}; removing what was built",
                b.done,
                b.commands.len()
            );
        }
        Phase::Built => {}
    }
    let rt = runtime()?;
    let t = rt.block_on(lifecycle::down(name, &mut Netlink::new()))?;
    let _ = writeln!(
        err,
        "lab `{name}` removed: {} namespaces, {} processes stopped",
        t.namespaces.len(),
        t.processes
    );
    for e in &t.errors {
        let _ = writeln!(err, "vxlab: {e}");
    }
    Ok(if t.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
