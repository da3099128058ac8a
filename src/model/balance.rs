//! Load balancing in the lab model: kube-proxy-style services (`[kube_proxy]`,
//! `[[service]]`) and IPVS virtual services (`[[ipvs]]`).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use ipnet::Ipv4Net;
use serde::Serialize;

use super::nat::Proto;

/// Where kube-proxy runs (`[kube_proxy]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubeProxy {
    /// Nodes that get the KUBE-* chains, in order.
    pub nodes: Vec<String>,
    /// The pods' network (`--cluster-cidr`): traffic to a `ClusterIP` from outside it is
    /// masqueraded.
    pub cluster_cidr: Option<Ipv4Net>,
}

/// A Kubernetes service port (`[[service]]`), programmed as kube-proxy's iptables mode
/// does on every kube-proxy node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// `NAMESPACE/NAME`.
    pub name: String,
    /// The port's name, if the service names its ports.
    pub port_name: Option<String>,
    /// The `ClusterIP`.
    pub cluster_ip: Ipv4Addr,
    /// The service port.
    pub port: u16,
    /// Protocol.
    pub proto: Proto,
    /// `NodePort`, if the service has one.
    pub node_port: Option<u16>,
    /// Endpoints (pod address and target port), in order.
    pub endpoints: Vec<SocketAddrV4>,
}

impl Service {
    /// kube-proxy's service port name: `NAMESPACE/NAME[:PORTNAME]`.
    pub fn port_id(&self) -> String {
        match &self.port_name {
            Some(p) => format!("{}:{p}", self.name),
            None => self.name.clone(),
        }
    }
}

/// IPVS schedulers the kernel ships (`ipvsadm -s`).
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// How IPVS forwards to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Forward {
    /// NAT (`ipvsadm -m`).
    Masq,
    /// Direct routing, "gatewaying" (`-g`, ipvsadm's default).
    Droute,
    /// IP-in-IP tunnel (`-i`).
    Tunnel,
}

impl Forward {
    /// The `ipvsadm` flag.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Masq => "-m",
            Self::Droute => "-g",
            Self::Tunnel => "-i",
        }
    }

    /// The kernel's `IP_VS_CONN_F_*` forwarding method.
    pub fn kernel(self) -> u32 {
        match self {
            Self::Masq => 0,
            Self::Tunnel => 2,
            Self::Droute => 3,
        }
    }

    /// Parses `masq`, `droute` or `tunnel` (or ipvsadm's words for them).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "masq" | "masquerading" | "nat" | "m" => Self::Masq,
            "droute" | "gatewaying" | "dr" | "route" | "g" => Self::Droute,
            "tunnel" | "ipip" | "tun" | "i" => Self::Tunnel,
            _ => return None,
        })
    }
}

/// A real server of an IPVS virtual service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpvsReal {
    /// Address.
    pub addr: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// Forwarding method.
    pub forward: Forward,
    /// Weight; 0 takes no new connections.
    pub weight: u32,
}

/// An IPVS virtual service (`[[ipvs]]`) and its real servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpvsService {
    /// Node whose IPVS table gets it.
    pub node: String,
    /// Protocol (tcp, udp or sctp).
    pub proto: Proto,
    /// Virtual address.
    pub addr: Ipv4Addr,
    /// Virtual port.
    pub port: u16,
    /// Scheduler, one of [`SCHEDULERS`].
    pub scheduler: String,
    /// Real servers, in order.
    pub reals: Vec<IpvsReal>,
    /// Built with nftables instead of the kernel's IPVS (`--emulate-ipvs`, or the default
    /// lab on a kernel without `ip_vs`); see [`crate::nat::emulate`].
    pub emulated: bool,
}

impl IpvsService {
    /// `tcp 172.18.0.2:80`, as `ipvsadm -L` names a service.
    pub fn key(&self) -> String {
        format!("{} {}:{}", self.proto, self.addr, self.port)
    }

    /// The virtual address and port.
    pub fn vip(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.addr, self.port)
    }
}

impl fmt::Display for IpvsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key(), self.scheduler)
    }
}
