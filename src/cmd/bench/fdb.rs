//! How long a change in the kernel's FDB takes to reach vxlab: the netlink notification,
//! and the re-read table the live panel shows.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::neighbour::NeighbourAttribute;
use vxlab::kernel::{Kernel, Netlink, connect, monitor};
use vxlab::lifecycle;
use vxlab::observe::dump;
use vxlab::plan::{Op, plan};

use super::stats;
use crate::cmd::lab_cmds::{build, emulate_ipvs_if_missing, runtime};
use crate::cmd::load::load;

/// Deletes and re-adds one static FDB entry of docker-overlay `runs` times.
pub fn run(runs: usize) -> Result<()> {
    let mut l = load(vxlab::labs::DEFAULT)?;
    let name = vxlab::model::LabName::new(&format!("bench-fdb-{}", std::process::id()))?;
    l.lab = emulate_ipvs_if_missing(l.lab).renamed(&name);
    build(&l.lab, &l.text, true)?;
    let fdb_op = plan(&l.lab)
        .into_iter()
        .find(|op| matches!(op, Op::AddFdb { .. }))
        .context("no FDB entry in the lab")?;
    let rt = runtime()?;
    let result = rt.block_on(measure(&fdb_op, runs));
    rt.block_on(lifecycle::down(&name, &mut Netlink::new()))?;
    let (mut notify, mut table) = result?;
    println!(
        "fdb: `bridge fdb del` in {} → vxlab, {runs} runs",
        fdb_op.netns()
    );
    println!("  netlink notification        {}", stats(&mut notify));
    println!("  table re-read (live panel)  {}", stats(&mut table));
    Ok(())
}

async fn measure(op: &Op, runs: usize) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let Op::AddFdb { netns: ns, mac, .. } = op else {
        anyhow::bail!("not an FDB entry")
    };
    let (_mon, mut events) = monitor(ns)?;
    let handle = connect(ns)?;
    let mut kernel = Netlink::new();
    let (mut notify, mut table) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let mut req = handle.neighbours().get();
        req.message_mut().header.family = AddressFamily::Bridge;
        let entries: Vec<_> = req.execute().try_collect().await?;
        let entry = entries
            .into_iter()
            .find(|n| {
                n.attributes
                    .iter()
                    .any(|a| matches!(a, NeighbourAttribute::LinkLayerAddress(l) if l[..] == mac.0))
            })
            .context("the FDB entry is missing")?;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(20), events.next()).await
        {
        }
        let t = Instant::now();
        handle.neighbours().del(entry).execute().await?;
        loop {
            let (msg, _) = events.next().await.context("monitor closed")?;
            if let rtnetlink::packet_core::NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::DelNeighbour(_),
            ) = msg.payload
            {
                break;
            }
        }
        notify.push(t.elapsed());
        dump(&handle).await?;
        table.push(t.elapsed());
        kernel.apply(op).await?;
    }
    Ok((notify, table))
}
