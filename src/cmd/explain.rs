//! `vxlab explain`: predict a packet's path from the live tables, send a real probe, and
//! show where the two part.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use vxlab::doctor::read::read;
use vxlab::explain::{Probe, compare, explanation_text, parse_ping, predict};
use vxlab::model::Proto;

use super::lab_cmds::runtime;
use super::load::{require_root, running};
use super::trace::{ProbeSpec, observe};

/// `vxlab explain LAB --from NODE --to IP[:PORT]`
#[derive(Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches of one command line"
)]
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
    /// Bytes of ICMP data, as `ping -s` (the packet is 28 bytes longer): predict where a
    /// packet this big dies (each device's MTU, VXLAN's 50 bytes) and send one.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(0..=65507))]
    size: Option<u32>,
    /// Set the don't-fragment bit, as `ping -M do`; without it the probe has DF clear
    /// (`-M dont`) and may be fragmented.
    #[arg(long, requires = "size")]
    df: bool,
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
    super::load::check_node(&a.from)?;
    let (to, port) = target(a)?;
    let proto = match (port, a.udp) {
        (None, _) => Proto::Icmp,
        (Some(_), true) => Proto::Udp,
        (Some(_), false) => Proto::Tcp,
    };
    if a.size.is_some() && port.is_some() {
        bail!("--size is for ICMP echo (an IPv4 address without a port), as `ping -s`");
    }
    let probe = Probe {
        from: a.from.clone(),
        to,
        proto,
        port,
        size: a.size,
        df: a.df,
    };
    let snap = runtime()?.block_on(read(&lab));
    if snap.node(&a.from).is_none() {
        bail!("lab `{}` has no node `{}` up", lab.name, a.from);
    }
    let (journeys, drops, ping) = if a.no_probe {
        (
            Vec::new(),
            Err("--no-probe: nothing was sent".to_string()),
            None,
        )
    } else {
        let sock = port.map(|p| SocketAddr::new(IpAddr::V4(to), p));
        let spec = ProbeSpec {
            ping: port.is_none().then_some(IpAddr::V4(to)),
            tcp: sock.filter(|_| !a.udp),
            udp: sock.filter(|_| a.udp),
            count: 1,
            size: a.size.map(|s| (s, a.df)),
        };
        let o = observe(&lab, &a.from, &spec, a.json)?;
        let ping = (port.is_none()).then(|| parse_ping(&o.ping_output));
        (o.journeys, o.drops, ping)
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
    let mut e = compare(&lab.name, &probe, &legs, &journeys).with_drops(drops);
    if let Some(p) = ping {
        e = e.with_ping(p);
    }
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
