//! `up` and `down` of a lab through vxlab, side by side with bash running the equivalent
//! `vxlab script`.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use vxlab::kernel::Netlink;
use vxlab::lifecycle;
use vxlab::plan::plan;
use vxlab::plan::script::{down_script, up_script};

use super::stats;
use crate::cmd::lab_cmds::{build, emulate_ipvs_if_missing, runtime};
use crate::cmd::load::load;

fn bash(script: &str) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new("bash")
        .env("VXLAB", exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot run bash")?;
    std::io::Write::write_all(child.stdin.as_mut().context("no stdin")?, script.as_bytes())?;
    drop(child.stdin.take());
    if !child.wait()?.success() {
        bail!("the script failed");
    }
    Ok(())
}

/// Times `up` and `down` of `lab`, `runs` times each way.
pub fn run(lab: &str, runs: usize) -> Result<()> {
    let mut l = load(lab)?;
    l.lab = emulate_ipvs_if_missing(l.lab);
    let name = l.lab.name.clone();
    if !lifecycle::namespaces_of(&name).is_empty() {
        bail!("lab `{name}` is up; bring it down before benchmarking it");
    }
    let (upsh, downsh) = (up_script(&l.lab, &plan(&l.lab)), down_script(&l.lab));
    let rt = runtime()?;
    let (mut vx_up, mut vx_down, mut sh_up, mut sh_down) = (vec![], vec![], vec![], vec![]);
    eprintln!(
        "benchmarking lab `{name}` ({} steps), {} runs each",
        plan(&l.lab).len(),
        runs
    );
    for i in 0..runs {
        eprint!("\rrun {}/{}", i + 1, runs);
        let t = Instant::now();
        build(&l.lab, &l.text, true)?;
        vx_up.push(t.elapsed());
        let t = Instant::now();
        rt.block_on(lifecycle::down(&name, &mut Netlink::new()))?;
        vx_down.push(t.elapsed());
        let t = Instant::now();
        bash(&upsh)?;
        sh_up.push(t.elapsed());
        let t = Instant::now();
        bash(&downsh)?;
        sh_down.push(t.elapsed());
        rt.block_on(lifecycle::down(&name, &mut Netlink::new()))?;
    }
    eprintln!();
    println!(
        "lab {name}: {} namespaces, {} steps, {} runs",
        l.lab.nodes.len(),
        plan(&l.lab).len(),
        runs
    );
    println!("  up    vxlab (netlink)       {}", stats(&mut vx_up));
    println!("  up    bash + ip/bridge      {}", stats(&mut sh_up));
    println!("  down  vxlab                 {}", stats(&mut vx_down));
    println!("  down  bash + ip netns del   {}", stats(&mut sh_down));
    Ok(())
}
