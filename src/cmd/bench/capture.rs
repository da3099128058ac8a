//! Capture on every interface of docker-overlay while a ping flood crosses the overlay.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use vxlab::capture::{Capture, Options, lab_points};
use vxlab::kernel::Netlink;
use vxlab::lifecycle;
use vxlab::model::netns_name;
use vxlab::netns;

use crate::cmd::lab_cmds::{build, emulate_ipvs_if_missing, runtime};
use crate::cmd::load::load;

/// Floods 10.0.0.14 from hostA/container with 20 000 pings while capturing everywhere.
pub fn run(_lab: &str) -> Result<()> {
    let mut l = load(vxlab::labs::DEFAULT)?;
    let name = vxlab::model::LabName::new(&format!("bench-cap-{}", std::process::id()))?;
    l.lab = emulate_ipvs_if_missing(l.lab).renamed(&name);
    build(&l.lab, &l.text, true)?;
    let result = flood(&name);
    runtime()?.block_on(lifecycle::down(&name, &mut Netlink::new()))?;
    result
}

fn flood(name: &vxlab::model::LabName) -> Result<()> {
    let points = runtime()?.block_on(lab_points(name))?;
    let n_points = points.len();
    let cap = Capture::start(points, &Options::default());
    let ns = netns_name(name, "hostA/container");
    let t = Instant::now();
    let status = netns::run_in(&ns, || {
        Command::new("ping")
            .args(["-f", "-c", "20000", "-q", "10.0.0.14"])
            .stdout(Stdio::null())
            .status()
    })
    .context("cannot run ping -f")?;
    let flood = t.elapsed();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut frames = 0usize;
    while cap
        .next_timeout(std::time::Duration::from_millis(10))
        .is_some()
    {
        frames += 1;
    }
    let (undrained, counters) = cap.stop();
    frames += undrained.len();
    let dropped: u64 = counters.iter().map(|s| u64::from(s.dropped)).sum();
    let if_dropped: u64 = counters.iter().map(|s| u64::from(s.if_dropped)).sum();
    let received: u64 = counters.iter().map(|s| u64::from(s.received)).sum();
    #[expect(clippy::cast_precision_loss, reason = "a rate for display")]
    let per_s = frames as f64 / flood.as_secs_f64();
    println!(
        "capture: docker-overlay, {n_points} capture points, `ping -f -c 20000` hostA/container → 10.0.0.14 (ping {})",
        if status.success() {
            "ok"
        } else {
            "lost replies"
        }
    );
    println!("  flood lasted {flood:.2?}; captured {frames} frames ({per_s:.0} frames/s)");
    println!(
        "  libpcap received {received}, dropped {dropped} (buffer full), {if_dropped} by interfaces"
    );
    Ok(())
}
