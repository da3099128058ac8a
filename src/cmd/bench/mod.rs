//! `vxlab bench`: every benchmark in one run, each side by side with what it competes
//! with. Prints numbers; asserts nothing.

mod capture;
mod decode;
mod fdb;
mod scale;
mod updown;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::load::require_root;

/// Which benchmark.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Section {
    /// `up`/`down` against bash running `vxlab script`.
    Up,
    /// Decode rate on a generated pcap of VXLAN frames, against `tshark -r`.
    Decode,
    /// Capture on every interface of a lab under a ping flood: frames and drops.
    Capture,
    /// Time from a kernel FDB change to vxlab's refreshed table.
    Fdb,
    /// `up`/`down` of generated labs of growing size.
    Scale,
    /// The live panel: frame time with 100k packets buffered, update throughput.
    Ui,
}

/// `vxlab bench [LAB] [--only SECTION]...`
#[derive(Args)]
pub struct BenchArgs {
    /// Scenario file, or built-in lab name.
    #[arg(default_value = vxlab::labs::DEFAULT)]
    lab: String,
    /// Repetitions of each timed measurement.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Frames in the generated pcap of the decode benchmark.
    #[arg(long, default_value_t = 1_000_000)]
    frames: usize,
    /// Largest generated lab of the scale benchmark, in containers.
    #[arg(long, default_value_t = 200)]
    scale_max: usize,
    /// Run only these benchmarks (default: all).
    #[arg(long, value_enum)]
    only: Vec<Section>,
}

/// `min / median / max` of a set of durations.
pub fn stats(v: &mut [Duration]) -> String {
    v.sort();
    if v.is_empty() {
        return "no samples".into();
    }
    format!(
        "min {:>9.2?}  median {:>9.2?}  max {:>9.2?}",
        v[0],
        v[v.len() / 2],
        v[v.len() - 1]
    )
}

/// `vxlab bench`
pub fn bench(a: &BenchArgs) -> Result<ExitCode> {
    let want = |s: Section| a.only.is_empty() || a.only.contains(&s);
    if want(Section::Decode) {
        decode::run(a.frames)?;
    }
    if want(Section::Ui) {
        let l = super::load::load(vxlab::labs::DEFAULT)?;
        println!("ui: the live panel on docker-overlay, synthetic traffic");
        print!(
            "{}",
            vxlab::ui::bench::run(l.lab, vxlab::ui::RING_CAPACITY, 200)
        );
    }
    if want(Section::Up) || want(Section::Capture) || want(Section::Fdb) || want(Section::Scale) {
        require_root("bench")?;
    }
    if want(Section::Up) {
        updown::run(&a.lab, a.runs)?;
    }
    if want(Section::Capture) {
        capture::run(&a.lab)?;
    }
    if want(Section::Fdb) {
        fdb::run(a.runs.max(10))?;
    }
    if want(Section::Scale) {
        scale::run(a.scale_max)?;
    }
    Ok(ExitCode::SUCCESS)
}
