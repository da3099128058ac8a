//! `vxlab doctor`: read every namespace of a running lab and say what is wrong, with the
//! evidence and the commands that fix it.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use vxlab::doctor::{self, diagnose, report_text};
use vxlab::lifecycle;

use super::lab_cmds::runtime;
use super::load::{require_root, running};

/// `vxlab doctor LAB [--json]`
#[derive(Args)]
pub struct DoctorArgs {
    /// A lab that is up.
    lab: String,
    /// Machine-readable output: the findings, the notes and the snapshot they came from.
    #[arg(long)]
    json: bool,
}

/// `vxlab doctor`: exit status 0 when nothing is found, 1 otherwise.
pub fn doctor(a: &DoctorArgs) -> Result<ExitCode> {
    require_root("doctor")?;
    let lab = running(&a.lab)?.lab;
    if lifecycle::namespaces_of(&lab.name).is_empty() {
        bail!("lab `{}` is not up (`vxlab up {}` first)", lab.name, a.lab);
    }
    let snap = runtime()?.block_on(doctor::read::read(&lab));
    let report = diagnose(&snap, &lab);
    if a.json {
        let out = serde_json::json!({
            "lab": report.lab, "findings": report.findings, "notes": report.notes, "snapshot": snap,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report_text(&report, snap.nodes.len()));
    }
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
