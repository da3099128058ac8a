//! The plan: the ordered list of kernel operations that builds a [`Lab`], each one the
//! equivalent of one `ip`/`bridge`/`sysctl` command (see [`script`]).
//!
//! Pure: the plan is data, executed by a [`crate::kernel::Kernel`].

mod nat;
pub mod script;

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::model::{IpvsReal, Lab, Mac, Program, Proto};
use crate::nat::Rule;

/// One kernel operation, in a named network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `ip netns add NETNS`
    AddNetns {
        /// Namespace.
        netns: String,
    },
    /// `ip link add NAME type bridge [mcast_snooping 0]`
    AddBridge {
        /// Namespace.
        netns: String,
        /// Device name.
        name: String,
        /// MAC.
        mac: Mac,
        /// MTU.
        mtu: Option<u32>,
        /// IGMP snooping (the kernel's default); off for the emulated underlay switch,
        /// which floods multicast like a plain switch.
        snooping: bool,
    },
    /// Wait until DEV's carrier is up (`state UP`): the kernel reports a veth's carrier,
    /// and enables its bridge port, asynchronously, up to a second after `link set up`.
    AwaitUp {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
    },
    /// `ip link add NAME type veth peer name PEER netns PEER_NETNS`
    AddVeth {
        /// Namespace of the first end.
        netns: String,
        /// First end.
        name: String,
        /// Its MAC.
        mac: Mac,
        /// Namespace of the peer.
        peer_netns: String,
        /// Peer name.
        peer: String,
        /// Peer MAC.
        peer_mac: Mac,
        /// MTU of both ends.
        mtu: Option<u32>,
    },
    /// `ip link add NAME type vxlan id VNI ...`
    AddVxlan {
        /// Namespace where it is created.
        netns: String,
        /// Device name.
        name: String,
        /// MAC.
        mac: Mac,
        /// MTU.
        mtu: Option<u32>,
        /// VNI.
        vni: u32,
        /// UDP port.
        dstport: Option<u16>,
        /// Outer source.
        local: Option<IpAddr>,
        /// Unicast remote.
        remote: Option<IpAddr>,
        /// Multicast group.
        group: Option<IpAddr>,
        /// Underlay device.
        dev: Option<String>,
        /// `proxy`.
        proxy: bool,
        /// `learning`.
        learning: bool,
    },
    /// `ip link set NAME netns TO`
    MoveLink {
        /// Current namespace.
        netns: String,
        /// Device.
        name: String,
        /// Destination namespace.
        to: String,
    },
    /// `ip link set DEV master MASTER`
    SetMaster {
        /// Namespace.
        netns: String,
        /// Port.
        dev: String,
        /// Bridge.
        master: String,
    },
    /// `sysctl -w KEY=VALUE` in the namespace.
    Sysctl {
        /// Namespace.
        netns: String,
        /// Dotted key.
        key: String,
        /// Value.
        value: String,
    },
    /// `ip addr add ADDRESS dev DEV`
    AddAddress {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
        /// Address.
        address: IpNet,
    },
    /// `ip link set DEV up`
    LinkUp {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
    },
    /// `ip route add TO [via VIA] [dev DEV] [metric METRIC]`
    AddRoute {
        /// Namespace.
        netns: String,
        /// Destination.
        to: IpNet,
        /// Gateway.
        via: Option<IpAddr>,
        /// Output device.
        dev: Option<String>,
        /// Metric.
        metric: Option<u32>,
    },
    /// `ip neigh add TO lladdr LLADDR dev DEV nud permanent`
    AddNeigh {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
        /// Neighbour IP.
        to: IpAddr,
        /// Its MAC.
        lladdr: Mac,
    },
    /// `bridge fdb add MAC dev DEV [dst DST] self|master permanent`
    AddFdb {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
        /// MAC.
        mac: Mac,
        /// Remote VTEP.
        dst: Option<IpAddr>,
        /// `self` rather than `master`.
        self_: bool,
    },
    /// Start a program in the namespace, detached, for the lab's lifetime.
    Spawn {
        /// Namespace.
        netns: String,
        /// What to run.
        program: Program,
    },
    /// `iptables -t nat -N CHAIN`: a user chain of the lab's nat table (`ip vxlab`).
    AddNatChain {
        /// Namespace.
        netns: String,
        /// Chain name, e.g. `KUBE-SERVICES`.
        chain: String,
    },
    /// `iptables -t nat -I|-A CHAIN …`: a rule of the lab's nat table (nft `ip vxlab`;
    /// iptables' `ip nat` for rules needing an xt match such as `ipvs`).
    AddNatRule {
        /// Namespace.
        netns: String,
        /// The rule.
        rule: Rule,
        /// `-I` (top of the chain) rather than `-A`; only ever set when the chain is still
        /// empty, so both build the same chain.
        insert: bool,
    },
    /// `ipvsadm -A -t|-u ADDR:PORT -s SCHEDULER`
    AddIpvsService {
        /// Namespace.
        netns: String,
        /// Protocol.
        proto: Proto,
        /// Virtual address.
        addr: std::net::Ipv4Addr,
        /// Virtual port.
        port: u16,
        /// Scheduler.
        scheduler: String,
    },
    /// `ipvsadm -a -t|-u ADDR:PORT -r REAL:PORT -m|-g|-i -w WEIGHT`
    AddIpvsReal {
        /// Namespace.
        netns: String,
        /// Protocol of the virtual service.
        proto: Proto,
        /// Virtual address.
        addr: std::net::Ipv4Addr,
        /// Virtual port.
        port: u16,
        /// The real server.
        real: IpvsReal,
    },
    /// Nothing to do: a remark for the reader of `vxlab script` (`# TEXT`), e.g. what an
    /// emulation does differently.
    Note {
        /// Namespace it is about.
        netns: String,
        /// One line.
        text: String,
    },
}

impl Op {
    /// The namespace the operation acts in.
    pub fn netns(&self) -> &str {
        match self {
            Self::AddNetns { netns }
            | Self::AddBridge { netns, .. }
            | Self::AddVeth { netns, .. }
            | Self::AddVxlan { netns, .. }
            | Self::MoveLink { netns, .. }
            | Self::SetMaster { netns, .. }
            | Self::Sysctl { netns, .. }
            | Self::AddAddress { netns, .. }
            | Self::LinkUp { netns, .. }
            | Self::AddRoute { netns, .. }
            | Self::AddNeigh { netns, .. }
            | Self::AddFdb { netns, .. }
            | Self::Spawn { netns, .. }
            | Self::AddNatChain { netns, .. }
            | Self::AddNatRule { netns, .. }
            | Self::AddIpvsService { netns, .. }
            | Self::AddIpvsReal { netns, .. }
            | Self::Note { netns, .. }
            | Self::AwaitUp { netns, .. } => netns,
        }
    }
}

/// The operations that build `lab`, in an order the kernel accepts: namespaces, devices,
/// moves, ports, sysctls, addresses, links up, routes, neighbours, FDB, IPVS, NAT
/// (`[[nat]]`, then kube-proxy's chains), processes.
pub fn plan(lab: &Lab) -> Vec<Op> {
    let ns = |node: &str| lab.node(node).map_or_else(String::new, |n| n.netns.clone());
    let mut ops: Vec<Op> = lab
        .nodes
        .iter()
        .map(|n| Op::AddNetns {
            netns: n.netns.clone(),
        })
        .collect();
    ops.extend(lab.nodes.iter().filter(|n| n.lo_up).map(|n| Op::LinkUp {
        netns: n.netns.clone(),
        dev: "lo".into(),
    }));
    for b in &lab.bridges {
        ops.push(Op::AddBridge {
            netns: ns(&b.dev.node),
            name: b.dev.name.clone(),
            mac: b.mac,
            mtu: b.mtu,
            snooping: b.origin != crate::model::Origin::Underlay,
        });
    }
    for v in &lab.veths {
        ops.push(Op::AddVeth {
            netns: ns(&v.a.node),
            name: v.a.name.clone(),
            mac: v.a_mac,
            peer_netns: ns(&v.b.node),
            peer: v.b.name.clone(),
            peer_mac: v.b_mac,
            mtu: v.mtu,
        });
    }
    for v in &lab.vxlans {
        ops.push(Op::AddVxlan {
            netns: ns(&v.created_in),
            name: v.dev.name.clone(),
            mac: v.mac,
            mtu: v.mtu,
            vni: v.vni,
            dstport: v.dstport,
            local: v.local,
            remote: v.remote,
            group: v.group,
            dev: v.underlay_dev.clone(),
            proxy: v.proxy,
            learning: v.learning,
        });
        if v.created_in != v.dev.node {
            ops.push(Op::MoveLink {
                netns: ns(&v.created_in),
                name: v.dev.name.clone(),
                to: ns(&v.dev.node),
            });
        }
    }
    for b in &lab.bridges {
        for p in &b.ports {
            ops.push(Op::SetMaster {
                netns: ns(&b.dev.node),
                dev: p.clone(),
                master: b.dev.name.clone(),
            });
        }
    }
    for s in &lab.sysctls {
        if let Some(text) = nat::emulated_sysctl(lab, s) {
            ops.push(Op::Note {
                netns: ns(&s.node),
                text,
            });
            continue;
        }
        ops.push(Op::Sysctl {
            netns: ns(&s.node),
            key: s.key.clone(),
            value: s.value.clone(),
        });
    }
    for a in &lab.addresses {
        ops.push(Op::AddAddress {
            netns: ns(&a.dev.node),
            dev: a.dev.name.clone(),
            address: a.address,
        });
    }
    let vxlans = lab.vxlans.len();
    let all = lab.interfaces();
    let (wired, tunnels) = all.split_at(all.len() - vxlans);
    for (dev, _) in wired {
        ops.push(Op::LinkUp {
            netns: ns(&dev.node),
            dev: dev.name.clone(),
        });
    }
    // VXLAN devices join their multicast group when they come up: only once the wires
    // (and so the switch ports) carry traffic, or the join is lost.
    for v in &lab.veths {
        for end in [&v.a, &v.b] {
            ops.push(Op::AwaitUp {
                netns: ns(&end.node),
                dev: end.name.clone(),
            });
        }
    }
    for (dev, _) in tunnels {
        ops.push(Op::LinkUp {
            netns: ns(&dev.node),
            dev: dev.name.clone(),
        });
    }
    for r in &lab.routes {
        ops.push(Op::AddRoute {
            netns: ns(&r.node),
            to: r.to,
            via: r.via,
            dev: r.dev.clone(),
            metric: r.metric,
        });
    }
    for n in &lab.neighs {
        ops.push(Op::AddNeigh {
            netns: ns(&n.dev.node),
            dev: n.dev.name.clone(),
            to: n.to,
            lladdr: n.lladdr,
        });
    }
    for f in &lab.fdbs {
        ops.push(Op::AddFdb {
            netns: ns(&f.dev.node),
            dev: f.dev.name.clone(),
            mac: f.mac,
            dst: f.dst,
            self_: f.self_,
        });
    }
    ops.extend(nat::ops(lab, &ns));
    for p in &lab.processes {
        ops.push(Op::Spawn {
            netns: ns(&p.node),
            program: p
                .program
                .for_lab(lab, &crate::lifecycle::state_dir(&lab.name)),
        });
    }
    ops
}
