//! Servers of the lab that no longer run — vxlab's HTTP servers, `vxlab agent` (the Flannel
//! lab's flanneld), etcd — what their absence breaks, and the command that starts them
//! again.

use ipnet::IpNet;

use super::snapshot::{NodeState, Snapshot, route_dst};
use super::{Finding, Report};
use crate::fault::process::command_line;
use crate::lifecycle::state_dir;
use crate::model::{Lab, Program};
use crate::plan::script::quote;
use crate::process::log_name;

/// The vxlab binary to name in fix commands: this one, when it is vxlab.
fn vxlab_exe() -> String {
    std::env::current_exe()
        .ok()
        .filter(|e| e.file_name().is_some_and(|n| n == "vxlab"))
        .map_or_else(|| "vxlab".to_string(), |e| e.display().to_string())
}

/// The command that starts `argv` again in `n`, detached, logging where `up` logs.
pub(super) fn start_command(lab: &Lab, n: &NodeState, argv: &[String]) -> String {
    let mut words: Vec<String> = argv.iter().map(|a| quote(a)).collect();
    if argv.first().map(String::as_str) == Some("vxlab") {
        words[0] = quote(&vxlab_exe());
    }
    let log = state_dir(&lab.name).join(log_name(&n.netns, argv));
    format!(
        "ip netns exec {} setsid {} </dev/null >>{} 2>&1 &",
        n.netns,
        words.join(" "),
        log.display()
    )
}

/// Where the other nodes stand on the subnet of a stopped agent: still routed, or
/// forgotten.
fn peers_of(snap: &Snapshot, lab: &Lab, node: &str, subnet: IpNet) -> Vec<String> {
    lab.agents()
        .iter()
        .filter(|a| a.node != node)
        .filter_map(|a| {
            let n = snap.node(&a.node)?;
            let routed = n.routes.iter().any(|r| route_dst(r) == Some(subnet));
            Some(if routed {
                format!(
                    "{}: ip route: {subnet} via {} dev {} (kept until {node}'s lease expires)",
                    a.node,
                    subnet.network(),
                    a.vtep
                )
            } else {
                format!(
                    "{}: ip route: no route to {subnet} (its agent forgot {node}: the lease expired)",
                    a.node
                )
            })
        })
        .collect()
}

/// Servers the lab starts that do not run.
pub(super) fn process_down(snap: &Snapshot, lab: &Lab, r: &mut Report) {
    let agents = lab.agents();
    for (i, p) in lab.processes.iter().enumerate().filter(|(_, p)| p.serves()) {
        let Some(n) = snap.node(&p.node) else {
            continue;
        };
        let argv = command_line(lab, i);
        if argv.is_empty() || n.running(&argv).is_some() {
            continue;
        }
        let shown = argv.join(" ");
        let agent = agents.iter().find(|a| a.process == i);
        let (object, message) = match (&p.program, agent) {
            (Program::Http { port, .. }, _) => (
                format!("http :{port}"),
                format!(
                    "the HTTP server of {} (port {port}) is not running: connections to it are refused",
                    n.node
                ),
            ),
            (_, Some(a)) => (
                "vxlab agent".to_string(),
                format!(
                    "the flannel agent of {} (`vxlab agent`, flanneld's job) is not running: its lease in etcd is not renewed, so once it expires the other nodes forget {} (its route, ARP and FDB entries go) and its pods are cut off; nor does it program a node that joins meanwhile",
                    n.node,
                    a.subnet
                        .map_or_else(|| "its subnet".to_string(), |s| s.to_string())
                ),
            ),
            _ => (
                argv.first().cloned().unwrap_or_default(),
                format!(
                    "{} in {} is not running: {}",
                    argv.first().map_or("it", String::as_str),
                    n.node,
                    if agents.is_empty() {
                        "what depends on it fails".to_string()
                    } else {
                        "the agents can neither renew their leases nor see nodes join or leave"
                            .to_string()
                    }
                ),
            ),
        };
        let mut f = Finding::new("process-down", &n.node, object, message)
            .evidence(format!("ip netns pids {}: no process `{shown}`", n.netns));
        if let Some(s) = agent.and_then(|a| a.subnet) {
            for e in peers_of(snap, lab, &n.node, IpNet::V4(s)) {
                f = f.evidence(e);
            }
        }
        r.findings.push(f.fix(start_command(lab, n, &argv)));
    }
}
