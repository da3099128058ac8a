//! How `up` and `down` grow with the size of a lab: generated labs of 50 to N containers.

use std::time::Instant;

use anyhow::Result;
use vxlab::kernel::Netlink;
use vxlab::lifecycle;
use vxlab::plan::plan;

use crate::cmd::lab_cmds::{build, runtime};
use crate::cmd::load::parse;

/// Builds and removes generated labs of 50, 100, 200 … up to `max` containers.
pub fn run(max: usize) -> Result<()> {
    println!("scale: generated labs (50 containers per host, one VXLAN-joined L2 network)");
    println!(
        "  {:>10} {:>10} {:>7} {:>10} {:>10} {:>12}",
        "containers", "namespaces", "steps", "up", "down", "up per ns"
    );
    let rt = runtime()?;
    let mut n = 50;
    while n <= max {
        let name = vxlab::model::LabName::new(&format!("bench-scale-{}", std::process::id()))?;
        let l = parse(format!("generated:{n}"), vxlab::labs::generated(&name, n))?;
        let steps = plan(&l.lab).len();
        let t = Instant::now();
        build(&l.lab, &l.text, true)?;
        let up = t.elapsed();
        let t = Instant::now();
        rt.block_on(lifecycle::down(&name, &mut Netlink::new()))?;
        let down = t.elapsed();
        let per = up / u32::try_from(l.lab.nodes.len()).unwrap_or(1);
        println!(
            "  {n:>10} {:>10} {steps:>7} {up:>10.2?} {down:>10.2?} {per:>12.2?}",
            l.lab.nodes.len()
        );
        n = if n * 2 > max && n < max { max } else { n * 2 };
    }
    Ok(())
}
