//! `vxlab agent`: flanneld's vxlan backend for one node of a lab (see [`vxlab::agent`]).

use std::net::Ipv4Addr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use ipnet::Ipv4Net;

use vxlab::agent::{self, Config, vtep::VtepSpec};

/// Arguments of `vxlab agent`.
#[derive(Args)]
pub struct AgentArgs {
    /// etcd's client URL (its HTTP/JSON gateway).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:2379")]
    etcd: String,
    /// This node's pod subnet, e.g. 10.244.1.0/24; flannel.1 gets its network address.
    #[arg(long)]
    subnet: Ipv4Net,
    /// Underlay interface: flannel.1's `dev`, and where the public IP comes from.
    #[arg(long, default_value = "eth0")]
    iface: String,
    /// Address published to the other nodes (default: the first IPv4 address of --iface).
    #[arg(long, value_name = "IP")]
    public_ip: Option<Ipv4Addr>,
    /// Key prefix in etcd, as flanneld's --etcd-prefix.
    #[arg(long, default_value = "/coreos.com/network")]
    prefix: String,
    /// The VTEP device; created if missing.
    #[arg(long, default_value = "flannel.1")]
    vtep: String,
    /// VNI of a VTEP the agent creates.
    #[arg(long, default_value_t = 1)]
    vni: u32,
    /// UDP port of a VTEP the agent creates (flannel's default, Linux's 8472).
    #[arg(long, default_value_t = 8472)]
    port: u16,
    /// Lease TTL in seconds: how long the node's record outlives the agent.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..))]
    ttl: u32,
}

/// `vxlab agent`
pub fn agent(a: &AgentArgs) -> Result<ExitCode> {
    let cfg = Config {
        etcd: a.etcd.clone(),
        prefix: a.prefix.clone(),
        subnet: a.subnet.trunc(),
        iface: a.iface.clone(),
        public_ip: a.public_ip,
        vtep: VtepSpec {
            name: a.vtep.clone(),
            vni: a.vni,
            port: a.port,
        },
        ttl: a.ttl,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(agent::run(cfg))
        .with_context(|| format!("agent for {}", a.subnet.trunc()))?;
    Ok(ExitCode::SUCCESS)
}
