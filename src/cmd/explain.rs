//! `vxlab explain`: predict a packet's path from the live tables, send a real probe, and
//! show where the two part.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use vxlab::doctor::read::read;
use vxlab::explain::{Probe, compare, explanation_text, predict};
use vxlab::model::Proto;

use super::lab_cmds::runtime;
use super::load::{require_root, running};
use super::trace::{ProbeSpec, observe};

/// `vxlab explain LAB --from NODE --to IP[:PORT]`
#[derive(Args)]
pub struct ExplainArgs {
    /// A lab that is up.
    lab: String,
    /// Node that sends the packet, e.g. hostA/container.
    #[arg(long)]
    from: String,
    /// Destination: an IPv4 address (ICMP echo) or IP:PORT (TCP; UDP with --udp).
    #[arg(long, value_name = "IP[:PORT]")]
    to: String,
    /// With IP:PORT, send UDP instead of TCP.
    #[arg(long)]
    udp: bool,
    /// Only predict: send nothing, capture nothing.
    #[arg(long)]
    no_probe: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn target(a: &ExplainArgs) -> Result<(Ipv4Addr, Option<u16>)> {
    if let Ok(IpAddr::V4(ip)) = a.to.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    match a.to.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(s)) => Ok((*s.ip(), Some(s.port()))),
        _ => bail!("`{}` is not an IPv4 address or IPv4:PORT", a.to),
    }
}

/// `vxlab explain`: exit status 0 when the path works, 1 when it breaks.
pub fn explain(a: &ExplainArgs) -> Result<ExitCode> {
    require_root("explain")?;
    let lab = running(&a.lab)?.lab;
    let (to, port) = target(a)?;
    let proto = match (port, a.udp) {
        (None, _) => Proto::Icmp,
        (Some(_), true) => Proto::Udp,
        (Some(_), false) => Proto::Tcp,
    };
    let probe = Probe {
        from: a.from.clone(),
        to,
        proto,
        port,
    };
    let snap = runtime()?.block_on(read(&lab));
    if snap.node(&a.from).is_none() {
        bail!("lab `{}` has no node `{}` up", lab.name, a.from);
    }
    let (journeys, drops) = if a.no_probe {
        (Vec::new(), Err("--no-probe: nothing was sent".to_string()))
    } else {
        let sock = port.map(|p| SocketAddr::new(IpAddr::V4(to), p));
        let spec = ProbeSpec {
            ping: port.is_none().then_some(IpAddr::V4(to)),
            tcp: sock.filter(|_| !a.udp),
            udp: sock.filter(|_| a.udp),
            count: 1,
        };
        let o = observe(&lab, &a.from, &spec, a.json)?;
        (o.journeys, o.drops)
    };
    // Follow the real server the load balancer really picked.
    let picks: Vec<Ipv4Addr> = journeys
        .iter()
        .flat_map(|j| j.hops.iter())
        .filter_map(|h| match h.dst.0 {
            IpAddr::V4(d) if d != to => Some(d),
            _ => None,
        })
        .collect();
    let legs = predict(&snap, &lab, &probe, &picks);
    let e = compare(&lab.name, &probe, &legs, &journeys).with_drops(drops);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print!("{}", explanation_text(&e));
        if a.no_probe {
            println!("(--no-probe: nothing was sent; the marks say nothing about the real packet)");
        }
    }
    Ok(if e.culprit.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
