//! IPVS, the kernel's layer-4 load balancer, programmed over generic netlink (family
//! `IPVS`) from inside a lab's namespace: `ipvsadm -A` and `-a` without ipvsadm.
//!
//! IPVS tables are per network namespace, so a lab's services disappear with its
//! namespaces. Kernels without `ip_vs` (see [`kernel_has_ipvs`]) can run labs with an
//! nftables emulation instead ([`crate::nat::emulate`]).

pub mod message;

use std::io;
use std::net::Ipv4Addr;
use std::path::Path;

use serde::Serialize;

use crate::kernel::NlSocket;
use crate::model::{Forward, IpvsReal, IpvsService, Proto};
use crate::netns;
pub use message::Virtual;

/// Where a kernel with IPVS shows its sysctls; absent without the `ip_vs` module.
pub const PROC_DIR: &str = "/proc/sys/net/ipv4/vs";

/// Whether IPVS can be used here: the kernel has it (module `ip_vs` loaded or built in)
/// and vxlab may program it (see [`unavailable`]).
pub fn kernel_has_ipvs() -> bool {
    unavailable().is_none()
}

/// Why IPVS cannot be used here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !Path::new(PROC_DIR).is_dir() {
        return Some(format!(
            "this kernel has no IPVS (kernel module ip_vs is missing: {PROC_DIR} does not exist; \
             `modprobe ip_vs` where modules can be loaded)"
        ));
    }
    // The IPVS netlink family checks CAP_NET_ADMIN in the initial user namespace.
    crate::rootless::in_user_namespace().then(|| {
        "IPVS cannot be programmed from a user namespace (rootless mode): the kernel asks for \
         CAP_NET_ADMIN in the host's initial namespace"
            .to_string()
    })
}

/// Why an IPVS request failed.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// No socket, or no IPVS family: the kernel lacks IPVS.
    #[error(
        "IPVS: cannot reach the kernel's IPVS family in namespace {netns} (is the ip_vs module loaded?): {source}"
    )]
    NoFamily {
        /// Namespace.
        netns: String,
        /// Cause.
        source: io::Error,
    },
    /// The kernel refused a request.
    #[error("IPVS: cannot {op} {object} in namespace {netns}: {source}")]
    Request {
        /// What was asked, e.g. `add service`.
        op: &'static str,
        /// What it was about, e.g. `tcp 172.18.0.2:80`.
        object: String,
        /// Namespace.
        netns: String,
        /// What the kernel said.
        source: io::Error,
    },
}

fn family(sock: &mut NlSocket) -> io::Result<u16> {
    let answer = sock.request(message::resolve_family(), 0)?;
    answer
        .iter()
        .find_map(message::family_id)
        .ok_or_else(|| io::Error::other("the controller did not say the IPVS family's id"))
}

/// Runs `f` with an IPVS socket and the family id, in namespace `ns`.
fn with_ipvs<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce(&mut NlSocket, u16) -> Result<T, IpvsError> + Send + 'static,
) -> Result<T, IpvsError> {
    let netns = ns.to_string();
    let no_family = move |source| IpvsError::NoFamily {
        netns: netns.clone(),
        source,
    };
    netns::run_in(ns, move || {
        let mut sock = NlSocket::open(netlink_sys::protocols::NETLINK_GENERIC)?;
        let id = family(&mut sock)?;
        Ok(f(&mut sock, id))
    })
    .map_err(no_family)?
}

fn object(v: Virtual) -> String {
    format!("{} {}:{}", v.proto, v.addr, v.port)
}

/// Adds virtual service `v` with `scheduler` in namespace `ns` (`ipvsadm -A`).
pub fn add_service(ns: &str, v: Virtual, scheduler: &str) -> Result<(), IpvsError> {
    let (netns, sched) = (ns.to_string(), scheduler.to_string());
    with_ipvs(ns, move |sock, id| {
        sock.request(message::new_service(id, v, &sched), 0)
            .map(drop)
            .map_err(|source| IpvsError::Request {
                op: "add service",
                object: object(v),
                netns,
                source,
            })
    })
}

/// Adds real server `r` to virtual service `v` in namespace `ns` (`ipvsadm -a`).
pub fn add_real(ns: &str, v: Virtual, r: &IpvsReal) -> Result<(), IpvsError> {
    let (netns, r) = (ns.to_string(), r.clone());
    with_ipvs(ns, move |sock, id| {
        sock.request(message::new_dest(id, v, &r), 0)
            .map(drop)
            .map_err(|source| IpvsError::Request {
                op: "add real server",
                object: format!("{}:{} to {}", r.addr, r.port, object(v)),
                netns,
                source,
            })
    })
}

/// A real server as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealRow {
    /// Address.
    pub addr: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// Forwarding method.
    pub forward: Forward,
    /// Weight.
    pub weight: u32,
    /// Established connections.
    pub active: u32,
    /// Other connections.
    pub inactive: u32,
}

/// A virtual service, as the kernel reports it (or, emulated, as the lab defines it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRow {
    /// Protocol.
    pub proto: Proto,
    /// Virtual address.
    pub addr: Ipv4Addr,
    /// Virtual port.
    pub port: u16,
    /// Scheduler.
    pub scheduler: String,
    /// Real servers.
    pub reals: Vec<RealRow>,
    /// Emulated with nftables: not in the kernel's IPVS table (connection counts unknown).
    pub emulated: bool,
}

impl ServiceRow {
    /// The row of an emulated service, from the lab model.
    pub fn emulated(s: &IpvsService) -> Self {
        Self {
            proto: s.proto,
            addr: s.addr,
            port: s.port,
            scheduler: s.scheduler.clone(),
            reals: s
                .reals
                .iter()
                .map(|r| RealRow {
                    addr: r.addr,
                    port: r.port,
                    forward: r.forward,
                    weight: r.weight,
                    active: 0,
                    inactive: 0,
                })
                .collect(),
            emulated: true,
        }
    }
}

/// The IPVS table of namespace `ns` (`ipvsadm -Ln`), IPv4 services only.
pub fn list(ns: &str) -> Result<Vec<ServiceRow>, IpvsError> {
    let netns = ns.to_string();
    with_ipvs(ns, move |sock, id| {
        let err = |op, object: String, source| IpvsError::Request {
            op,
            object,
            netns: netns.clone(),
            source,
        };
        let dump = netlink_packet_core::NLM_F_DUMP;
        let services = sock
            .request(message::get_services(id), dump)
            .map_err(|e| err("list services", "all".into(), e))?;
        let mut out = Vec::new();
        for (v, scheduler) in services.iter().filter_map(message::parse_service) {
            let dests = sock
                .request(message::get_dests(id, v), dump)
                .map_err(|e| err("list real servers of", object(v), e))?;
            let reals = dests
                .iter()
                .filter_map(message::parse_dest)
                .map(|(r, active, inactive)| RealRow {
                    addr: r.addr,
                    port: r.port,
                    forward: r.forward,
                    weight: r.weight,
                    active,
                    inactive,
                })
                .collect();
            out.push(ServiceRow {
                proto: v.proto,
                addr: v.addr,
                port: v.port,
                scheduler,
                reals,
                emulated: false,
            });
        }
        Ok(out)
    })
}
