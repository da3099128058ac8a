//! What a lab's processes make and run once started, read from their command lines: the
//! VXLAN device a `vxlab agent` (flanneld) creates and programs, the Open vSwitch a
//! `vxlab ovs-host` starts and configures, and which processes are servers that should
//! run for the lab's lifetime. The kernel only shows their effects; faults, the doctor and
//! `vxlab explain` need to know who is behind them.

use std::path::PathBuf;

use ipnet::Ipv4Net;

use super::{IfRef, Lab, LabName, OvsDatapath, Process, Program};

/// The value of option `--name` in `args` (`--name VALUE` or `--name=VALUE`), before
/// a bare `--`.
fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut it = args.iter().take_while(|a| *a != "--");
    while let Some(a) = it.next() {
        if a == name {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
    }
    None
}

/// Every value of a repeatable option.
fn options<'a>(args: &'a [String], name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut it = args.iter().take_while(|a| *a != "--");
    while let Some(a) = it.next() {
        if a == name {
            out.extend(it.next().map(String::as_str));
        } else if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            out.push(v);
        }
    }
    out
}

/// Every `A=B` value of a repeatable option, split at the first `=`.
fn pairs(args: &[String], name: &str) -> Vec<(String, String)> {
    options(args, name)
        .into_iter()
        .filter_map(|f| f.split_once('='))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The arguments of a `vxlab SUBCOMMAND …` process, after the subcommand.
fn vxlab_args<'a>(p: &'a Process, subcommand: &str) -> Option<&'a [String]> {
    match &p.program {
        Program::Command(argv)
            if argv.len() >= 2 && argv[0] == "vxlab" && argv[1] == subcommand =>
        {
            Some(&argv[2..])
        }
        _ => None,
    }
}

/// A `vxlab agent` process: flanneld's vxlan backend on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Its index in [`Lab::processes`].
    pub process: usize,
    /// The node it runs in.
    pub node: String,
    /// Its VTEP device (`--vtep`, default `flannel.1`), which it creates if missing.
    pub vtep: String,
    /// The VNI of the VTEP it creates (`--vni`, default 1).
    pub vni: u32,
    /// The UDP port of the VTEP it creates (`--port`, default 8472).
    pub port: u16,
    /// The VTEP's underlay device (`--iface`, default `eth0`).
    pub iface: String,
    /// The node's pod subnet (`--subnet`).
    pub subnet: Option<Ipv4Net>,
}

impl Agent {
    /// Its VTEP as an interface reference.
    pub fn dev(&self) -> IfRef {
        IfRef::new(self.node.clone(), self.vtep.clone())
    }
}

/// A `vxlab ovs-host` process: one host's Open vSwitch, configured with one `ovs-vsctl`
/// transaction and `ovs-ofctl add-flow`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvsHost {
    /// Its index in [`Lab::processes`].
    pub process: usize,
    /// The node it runs in.
    pub node: String,
    /// Its directory as written (`{state}` and `{lab}` not yet replaced).
    dir: String,
    /// Bridges it creates (`add-br`).
    pub bridges: Vec<String>,
    /// Ports it adds (`add-port BRIDGE PORT`): bridge and port.
    pub ports: Vec<(String, String)>,
    /// Interface columns it sets (`set interface NAME COLUMN=VALUE`): interface, column
    /// (`options:remote_ip`), value.
    pub settings: Vec<(String, String, String)>,
    /// Flows it adds (`--flow BRIDGE=FLOW`): bridge and flow.
    pub flows: Vec<(String, String)>,
    /// Underlay devices it puts on a bridge of their own, address included
    /// (`--userspace-underlay DEV=BRIDGE`; on the userspace datapath only): device, bridge.
    pub underlays: Vec<(String, String)>,
}

impl OvsHost {
    /// Its directory in lab `lab` (as up names it): database, sockets, pid files, logs.
    pub fn dir(&self, lab: &LabName) -> PathBuf {
        let state = crate::lifecycle::state_dir(lab);
        PathBuf::from(
            self.dir
                .replace("{lab}", lab.as_str())
                .replace("{state}", &state.to_string_lossy()),
        )
    }

    /// `--db` of `ovs-vsctl`: `unix:DIR/db.sock`.
    pub fn db(&self, lab: &LabName) -> String {
        format!("unix:{}", self.dir(lab).join("db.sock").display())
    }

    /// The target `ovs-ofctl` reaches bridge `bridge` at: `unix:DIR/BRIDGE.mgmt`.
    pub fn mgmt(&self, lab: &LabName, bridge: &str) -> String {
        format!(
            "unix:{}",
            self.dir(lab).join(format!("{bridge}.mgmt")).display()
        )
    }

    /// Whether it makes an interface of this name: a bridge's own port, or a port it adds.
    pub fn has_interface(&self, name: &str) -> bool {
        self.bridges.iter().any(|b| b == name) || self.ports.iter().any(|(_, p)| p == name)
    }

    /// The value it gives `column` of interface `iface`, if it sets one.
    pub fn intended(&self, iface: &str, column: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(i, c, _)| i == iface && c == column)
            .map(|(_, _, v)| v.as_str())
    }

    fn parse(process: usize, node: &str, args: &[String], datapath: OvsDatapath) -> Option<Self> {
        let underlays = match datapath {
            OvsDatapath::Netdev => pairs(args, "--userspace-underlay"),
            OvsDatapath::System => Vec::new(),
        };
        let mut host = Self {
            process,
            node: node.to_string(),
            dir: option(args, "--dir")?.to_string(),
            bridges: Vec::new(),
            ports: Vec::new(),
            settings: Vec::new(),
            flows: pairs(args, "--flow"),
            underlays,
        };
        let vsctl = args
            .iter()
            .position(|a| a == "--")
            .map_or(&[][..], |i| &args[i + 1..]);
        for cmd in vsctl.split(|a| a == "--") {
            match cmd {
                [c, br, ..] if c == "add-br" => host.bridges.push(br.clone()),
                [c, br, port, ..] if c == "add-port" => {
                    host.ports.push((br.clone(), port.clone()));
                }
                [c, table, name, cols @ ..]
                    if c == "set" && table.eq_ignore_ascii_case("interface") =>
                {
                    for kv in cols {
                        if let Some((k, v)) = kv.split_once('=') {
                            host.settings
                                .push((name.clone(), k.to_string(), v.to_string()));
                        }
                    }
                }
                _ => {}
            }
        }
        for (dev, br) in &host.underlays {
            host.bridges.push(br.clone());
            host.ports.push((br.clone(), dev.clone()));
        }
        Some(host)
    }
}

impl Process {
    /// Whether it is a server, meant to run for the lab's lifetime: vxlab's HTTP server,
    /// `vxlab agent`, etcd. Other commands may well finish by design (`ethtool`, `vxlab
    /// ovs-host`).
    pub fn serves(&self) -> bool {
        match &self.program {
            Program::Http { .. } => true,
            Program::Command(argv) => {
                argv.first()
                    .is_some_and(|p| p.rsplit('/').next() == Some("etcd"))
                    || vxlab_args(self, "agent").is_some()
            }
        }
    }
}

impl Lab {
    /// The lab's `vxlab agent` processes, in file order.
    pub fn agents(&self) -> Vec<Agent> {
        self.processes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let args = vxlab_args(p, "agent")?;
                Some(Agent {
                    process: i,
                    node: p.node.clone(),
                    vtep: option(args, "--vtep").unwrap_or("flannel.1").to_string(),
                    vni: option(args, "--vni")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1),
                    port: option(args, "--port")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(8472),
                    iface: option(args, "--iface").unwrap_or("eth0").to_string(),
                    subnet: option(args, "--subnet").and_then(|v| v.parse().ok()),
                })
            })
            .collect()
    }

    /// The agent whose VTEP `dev` is, if a `vxlab agent` makes it.
    pub fn agent_of(&self, dev: &IfRef) -> Option<Agent> {
        self.agents().into_iter().find(|a| a.dev() == *dev)
    }

    /// The lab's `vxlab ovs-host` processes, in file order.
    pub fn ovs_hosts(&self) -> Vec<OvsHost> {
        self.processes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                OvsHost::parse(i, &p.node, vxlab_args(p, "ovs-host")?, self.ovs_datapath)
            })
            .collect()
    }

    /// The Open vSwitch of node `node`, if a `vxlab ovs-host` runs there.
    pub fn ovs_host(&self, node: &str) -> Option<OvsHost> {
        self.ovs_hosts().into_iter().find(|o| o.node == node)
    }

    /// The processes of node `node`, with their index in [`Lab::processes`].
    pub fn processes_of(&self, node: &str) -> Vec<(usize, &Process)> {
        self.processes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.node == node)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_labs_processes_are_read_from_their_command_lines() {
        let flannel = Lab::from_source(include_str!("../../labs/flannel.toml")).unwrap();
        let agents = flannel.agents();
        assert_eq!(agents.len(), 3);
        assert_eq!(agents[1].dev(), IfRef::new("node2", "flannel.1"));
        assert_eq!((agents[1].vni, agents[1].port), (1, 8472));
        assert_eq!(agents[1].subnet, Some("10.244.2.0/24".parse().unwrap()));
        assert!(flannel.processes.iter().filter(|p| p.serves()).count() >= 8);

        let ovs = Lab::from_source(include_str!("../../labs/ovs-vxlan.toml")).unwrap();
        let kernel = ovs.ovs_host("host2").unwrap();
        assert_eq!(
            kernel.bridges,
            ["br1"],
            "the kernel datapath needs no br-phy"
        );
        assert!(kernel.underlays.is_empty());
        let ovs = ovs.with_ovs_datapath(OvsDatapath::Netdev);
        let h2 = ovs.ovs_host("host2").unwrap();
        assert_eq!(h2.bridges, ["br1", "br-phy"]);
        assert!(h2.has_interface("eth0"), "br-phy takes eth0");
        assert!(h2.has_interface("vxlan1") && h2.has_interface("veth-c2"));
        assert_eq!(h2.intended("vxlan1", "options:key"), Some("flow"));
        assert_eq!(
            h2.intended("vxlan1", "options:remote_ip"),
            Some("192.168.1.9")
        );
        assert_eq!(h2.flows.len(), 2);
        assert_eq!(h2.underlays, [("eth0".to_string(), "br-phy".to_string())]);
        assert!(
            h2.db(&LabName::new("x").unwrap())
                .ends_with("/x/ovs-host2/db.sock"),
            "{}",
            h2.db(&LabName::new("x").unwrap())
        );
        assert!(!ovs.processes[h2.process].serves());
    }
}
