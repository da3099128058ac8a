//! Open vSwitch rules, on what each host's OVS reports ([`super::ovsdb`]) and what its
//! `vxlab ovs-host` process was told to build: daemons that do not run, ports it was told
//! to add that are missing, VXLAN ports that send to an address nobody has, and pairs of
//! VXLAN ports where one sends a VNI the other does not take (`options:key`, and the
//! `tun_id` the flows set when the key is `flow`).

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::ovsdb::{FlowAction, OvsInterface, OvsState};
use super::snapshot::{NodeState, Snapshot, host_of};
use super::{Finding, Report};
use crate::fault::ovs::set_command;
use crate::model::{Lab, OvsHost};

/// The VNIs a VXLAN port sends: its fixed key, or with `key=flow` the tunnel ids the flows
/// give what the bridge's other (kernel-device) ports send in, 0 where none does.
fn sends(o: &OvsState, v: &OvsInterface) -> BTreeSet<u64> {
    match v.options.get("key").map(String::as_str) {
        Some("flow") => o
            .interfaces
            .iter()
            .filter(|p| p.bridge == v.bridge && p.kind.is_empty())
            .map(|p| {
                o.flow_for(&v.bridge, &p.name, None)
                    .and_then(|f| {
                        f.actions.iter().find_map(|a| match a {
                            FlowAction::SetTunnel(t) => Some(*t),
                            _ => None,
                        })
                    })
                    .unwrap_or(0)
            })
            .collect(),
        Some(k) => k.parse().into_iter().collect(),
        None => BTreeSet::from([0]),
    }
}

/// Whether a VXLAN port takes VNI `vni`: any with `key=flow`, else its key (0 without).
fn takes(v: &OvsInterface, vni: u64) -> bool {
    match v.options.get("key").map(String::as_str) {
        Some("flow") => true,
        Some(k) => k.parse() == Ok(vni),
        None => vni == 0,
    }
}

fn key_text(v: &OvsInterface) -> String {
    v.options
        .get("key")
        .map_or_else(|| "no key (VNI 0)".to_string(), |k| format!("key={k}"))
}

/// A VXLAN port of the OVS of node `n`.
struct Tunnel<'a> {
    n: &'a NodeState,
    o: &'a OvsState,
    v: &'a OvsInterface,
    host: &'a OvsHost,
}

impl Tunnel<'_> {
    fn remote(&self) -> Option<IpAddr> {
        self.v.options.get("remote_ip")?.parse().ok()
    }

    /// Whether its key differs from what its host was told.
    fn astray(&self) -> bool {
        self.host.intended(&self.v.name, "options:key")
            != self.v.options.get("key").map(String::as_str)
    }
}

fn daemons(n: &NodeState, o: &OvsState, r: &mut Report) {
    for (running, daemon) in [
        (o.db_running, "ovsdb-server"),
        (o.switch_running, "ovs-vswitchd"),
    ] {
        if running {
            continue;
        }
        let what = if daemon == "ovsdb-server" {
            "OVS's configuration cannot be read or changed"
        } else {
            "no OVS bridge forwards anything"
        };
        r.findings.push(
            Finding::new(
                "ovs-down",
                &n.node,
                daemon,
                format!("{daemon} of {}'s Open vSwitch is not running: {what}", n.node),
            )
            .evidence(format!("{}/{daemon}.pid: no such process", o.dir))
            .fix(format!(
                "ip netns exec {} {daemon} {} --pidfile={}/{daemon}.pid --unixctl={}/{daemon}.ctl --log-file={}/{daemon}.log --detach",
                n.netns,
                if daemon == "ovsdb-server" {
                    format!("{}/conf.db --remote=p{}", o.dir, o.db)
                } else {
                    o.db.clone()
                },
                o.dir,
                o.dir,
                o.dir
            )),
        );
    }
}

fn missing_ports(n: &NodeState, o: &OvsState, host: &OvsHost, r: &mut Report) {
    for (br, port) in &host.ports {
        if o.interface(port).is_some_and(|i| &i.bridge == br) {
            continue;
        }
        r.findings.push(
            Finding::new(
                "ovs-port",
                &n.node,
                port,
                format!(
                    "{port} is not a port of {br} in {}'s Open vSwitch: {br} never switches frames to or from it",
                    n.node
                ),
            )
            .evidence(format!("ovs-vsctl list-ports {br}: no {port}"))
            .fix(format!("ovs-vsctl --db={} add-port {br} {port}", o.db)),
        );
    }
}

fn remote_nobody(snap: &Snapshot, t: &Tunnel<'_>, others: &[Tunnel<'_>], r: &mut Report) {
    let Some(ip) = t.remote() else { return };
    if snap
        .owners(ip)
        .iter()
        .any(|(o, _)| host_of(&o.node) != host_of(&t.n.node))
    {
        return;
    }
    let want = t
        .host
        .intended(&t.v.name, "options:remote_ip")
        .filter(|w| *w != ip.to_string())
        .map(str::to_string)
        .or_else(|| {
            others
                .iter()
                .find(|o| o.remote().is_some_and(|x| t.n.owns(x)))
                .and_then(|o| o.n.ipv4().first().map(|(_, a)| a.addr().to_string()))
        })
        .unwrap_or_else(|| "REMOTE_HOST_IP".into());
    r.findings.push(
        Finding::new(
            "ovs-tunnel",
            &t.n.node,
            &t.v.name,
            format!(
                "{} on {} sends its VXLAN packets to {ip}, an address no other machine of the lab has: every frame it tunnels is lost (its ARP for {ip} gets no answer)",
                t.v.name, t.n.node
            ),
        )
        .evidence(t.v.options_text())
        .evidence(format!("no node of the lab owns {ip}"))
        .fix(set_command(&t.o.db, &t.v.name, "options:remote_ip", Some(&want))),
    );
}

fn key_mismatch(a: &Tunnel<'_>, b: &Tunnel<'_>, r: &mut Report) {
    let lost: Vec<u64> = sends(a.o, a.v)
        .into_iter()
        .filter(|x| !takes(b.v, *x))
        .collect();
    if lost.is_empty() {
        return;
    }
    // Blame the side whose key is not the one its host was told to set.
    let (bad, good) = if a.astray() && !b.astray() {
        (a, b)
    } else {
        (b, a)
    };
    let want = bad.host.intended(&bad.v.name, "options:key").map_or_else(
        || {
            good.v
                .options
                .get("key")
                .cloned()
                .unwrap_or_else(|| "flow".into())
        },
        str::to_string,
    );
    let vnis: Vec<String> = lost.iter().map(ToString::to_string).collect();
    r.findings.push(
        Finding::new(
            "ovs-tunnel",
            &bad.n.node,
            &bad.v.name,
            format!(
                "{} on {} sends VNI {} to {} on {}, which has {} and drops them: frames from {} never reach {}",
                a.v.name,
                a.n.node,
                vnis.join(", "),
                b.v.name,
                b.n.node,
                key_text(b.v),
                a.n.node,
                b.n.node
            ),
        )
        .evidence(format!("{}: {}", a.n.node, a.v.options_text()))
        .evidence(format!("{}: {}", b.n.node, b.v.options_text()))
        .fix(set_command(&bad.o.db, &bad.v.name, "options:key", Some(&want))),
    );
}

/// Every Open vSwitch rule.
pub(super) fn ovs(snap: &Snapshot, lab: &Lab, r: &mut Report) {
    let hosts = lab.ovs_hosts();
    let mut tunnels = Vec::new();
    for host in &hosts {
        let Some(n) = snap.node(&host.node) else {
            continue;
        };
        let Some(o) = &n.ovs else { continue };
        daemons(n, o, r);
        if !o.db_running {
            continue;
        }
        missing_ports(n, o, host, r);
        tunnels.extend(
            o.interfaces
                .iter()
                .filter(|i| i.kind == "vxlan")
                .map(|v| Tunnel { n, o, v, host }),
        );
    }
    for t in &tunnels {
        remote_nobody(snap, t, &tunnels, r);
    }
    for a in &tunnels {
        for b in &tunnels {
            let faces = |x: &Tunnel<'_>, y: &Tunnel<'_>| x.remote().is_some_and(|ip| y.n.owns(ip));
            if host_of(&a.n.node) != host_of(&b.n.node) && faces(a, b) && faces(b, a) {
                key_mismatch(a, b, r);
            }
        }
    }
}
