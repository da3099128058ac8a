//! Checks of `[[fault]]` entries: a valid unique name, a description, and exactly one
//! action whose objects exist in the lab.

use ipnet::{IpNet, Ipv4Net};
use toml::Spanned;

use super::{Checker, IfKind};
use crate::model::names::check_word;
use crate::model::{Fault, FaultAction, IfRef, Lab, Program};
use crate::scenario::{self, Scenario, Text};

/// The action keys of a `[[fault]]`, for messages.
const ACTIONS: &str = "remove_fdb, remove_neigh, sysctl, link_down, remove_route, mtu, vxlan, remove_nat, stop_process, ovs_set";

impl Checker {
    pub(super) fn faults(&mut self, s: &Scenario, lab: &mut Lab) {
        let mut names = std::collections::HashSet::new();
        for f in &s.faults {
            let name = f.name.get_ref();
            if let Err(why) = check_word(name, 32) {
                self.err(
                    f.name.span(),
                    format!("`{name}` is not a valid fault name: {why}"),
                );
                continue;
            }
            if !names.insert(name.clone()) {
                self.err(f.name.span(), format!("fault `{name}` is declared twice"));
                continue;
            }
            if f.description.get_ref().trim().is_empty() {
                self.err_help(
                    f.description.span(),
                    "a fault needs a description",
                    "say what a student sees (the symptom), not the cause",
                );
            }
            let Some(action) = self.fault_action(f, lab) else {
                continue;
            };
            lab.faults.push(Fault {
                name: name.clone(),
                description: f.description.get_ref().trim().to_string(),
                action,
            });
        }
    }

    fn fault_action(&mut self, f: &scenario::Fault, lab: &Lab) -> Option<FaultAction> {
        let given: Vec<std::ops::Range<usize>> = [
            f.remove_fdb.as_ref().map(Spanned::span),
            f.remove_neigh.as_ref().map(Spanned::span),
            f.sysctl.as_ref().map(Spanned::span),
            f.link_down.as_ref().map(Spanned::span),
            f.remove_route.as_ref().map(Spanned::span),
            f.mtu.as_ref().map(Spanned::span),
            f.vxlan.as_ref().map(Spanned::span),
            f.remove_nat.as_ref().map(Spanned::span),
            f.stop_process.as_ref().map(Spanned::span),
            f.ovs_set.as_ref().map(Spanned::span),
        ]
        .into_iter()
        .flatten()
        .collect();
        match given.len() {
            0 => {
                self.err_help(
                    f.name.span(),
                    format!("fault `{}` has no action", f.name.get_ref()),
                    format!("give exactly one of {ACTIONS}"),
                );
                return None;
            }
            1 => {}
            _ => {
                self.err_help(
                    given[1].clone(),
                    format!("fault `{}` has more than one action", f.name.get_ref()),
                    "one fault, one change: declare another [[fault]] for the second",
                );
                return None;
            }
        }
        if let Some(x) = &f.remove_fdb {
            return self.fault_fdb(x, lab);
        }
        if let Some(x) = &f.remove_neigh {
            let x = x.get_ref();
            let (dev, to) = (self.existing_or_made(&x.dev, lab), self.ip(&x.to));
            return Some(FaultAction::RemoveNeigh {
                dev: dev?.0,
                to: to?,
            });
        }
        if let Some(x) = &f.sysctl {
            return self.fault_sysctl(x.get_ref());
        }
        if let Some(x) = &f.link_down {
            let dev = self.existing_or_lo(&x.get_ref().dev, lab)?;
            return Some(FaultAction::LinkDown { dev });
        }
        if let Some(x) = &f.remove_route {
            return self.fault_route(x.get_ref(), lab);
        }
        if let Some(x) = &f.mtu {
            let x = x.get_ref();
            let dev = self.existing_or_lo(&x.dev, lab);
            let mtu = *x.mtu.get_ref();
            if !(68..=65535).contains(&mtu) {
                self.err(x.mtu.span(), format!("MTU {mtu} is outside 68..=65535"));
                return None;
            }
            return Some(FaultAction::Mtu { dev: dev?, mtu });
        }
        if let Some(x) = &f.vxlan {
            return self.fault_vxlan(x.get_ref(), lab);
        }
        if let Some(x) = &f.remove_nat {
            return self.fault_nat(x.get_ref(), lab);
        }
        if let Some(x) = &f.stop_process {
            return self.fault_process(x.get_ref(), lab);
        }
        if let Some(x) = &f.ovs_set {
            return self.fault_ovs(x.get_ref(), lab);
        }
        None
    }

    /// An existing interface, or the VTEP a `vxlab agent` of its node makes at run time.
    fn existing_or_made(&mut self, t: &Text, lab: &Lab) -> Option<(IfRef, IfKind)> {
        if let Some((node, name)) = t.get_ref().rsplit_once(':') {
            let r = IfRef::new(node, name);
            if lab.agent_of(&r).is_some() {
                return Some((r, IfKind::Vxlan));
            }
        }
        self.existing(t)
    }

    fn fault_fdb(&mut self, x: &Spanned<scenario::FaultFdb>, lab: &Lab) -> Option<FaultAction> {
        let span = x.span();
        let x = x.get_ref();
        let dev = self.existing_or_made(&x.dev, lab).map(|(d, _)| d);
        let (mac, dst) = match (&x.mac, &x.dst) {
            (Some(m), None) => (Some(self.mac_value(m)?), None),
            (None, Some(d)) => (None, Some(self.ip(d)?)),
            _ => {
                self.err_help(
                    span,
                    "remove_fdb names the entries by `mac` or by `dst`, not both or neither",
                    "e.g. remove_fdb = { dev = \"node1:flannel.1\", dst = \"10.211.55.13\" }",
                );
                return None;
            }
        };
        Some(FaultAction::RemoveFdb {
            dev: dev?,
            mac,
            dst,
        })
    }

    fn fault_process(&mut self, x: &scenario::FaultProcess, lab: &Lab) -> Option<FaultAction> {
        let node = self.node_ref(&x.node)?;
        let mine = lab.processes_of(&node);
        let n = *x.process.get_ref();
        let index = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| mine.get(i))
            .map(|(i, _)| *i);
        let Some(index) = index else {
            self.err_help(
                x.process.span(),
                format!("`{node}` has no [[process]] #{n}"),
                format!("it has {} (counted from 1, in file order)", mine.len()),
            );
            return None;
        };
        if !lab.processes[index].serves() {
            self.err_help(
                x.process.span(),
                format!("process #{n} of `{node}` is not a server that keeps running"),
                "stop_process stops a server: an `http` process, `vxlab agent` or etcd",
            );
            return None;
        }
        let program = match &lab.processes[index].program {
            Program::Http { port, .. } => format!("http {port}"),
            Program::Command(argv) => argv.join(" "),
        };
        Some(FaultAction::StopProcess {
            node,
            index,
            program,
        })
    }

    fn fault_ovs(&mut self, x: &scenario::FaultOvsSet, lab: &Lab) -> Option<FaultAction> {
        let node = self.node_ref(&x.node)?;
        let Some(host) = lab.ovs_host(&node) else {
            self.err_help(
                x.node.span(),
                format!("`{node}` runs no Open vSwitch"),
                "ovs_set changes the Open vSwitch a `vxlab ovs-host` process of the node starts",
            );
            return None;
        };
        let interface = x.interface.get_ref();
        if !host.has_interface(interface) {
            let mut known: Vec<&str> = host.bridges.iter().map(String::as_str).collect();
            known.extend(host.ports.iter().map(|(_, p)| p.as_str()));
            self.err_help(
                x.interface.span(),
                format!("the Open vSwitch of `{node}` has no interface `{interface}`"),
                format!("its interfaces: {}", known.join(", ")),
            );
            return None;
        }
        let column = x.column.get_ref();
        let word = |w: &str| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let valid = match column.split_once(':') {
            Some((c, k)) => word(c) && word(k),
            None => word(column),
        };
        if !valid {
            self.err_help(
                x.column.span(),
                format!("`{column}` is not an Open vSwitch column"),
                "write COLUMN or COLUMN:KEY, e.g. options:remote_ip",
            );
            return None;
        }
        let value = x.value.get_ref();
        if value.is_empty() || value.contains(['\n', '\0']) {
            self.err(x.value.span(), "the value must be one non-empty line");
            return None;
        }
        Some(FaultAction::OvsSet {
            node,
            interface: interface.clone(),
            column: column.clone(),
            value: value.clone(),
        })
    }

    /// An existing interface, `lo` of an existing node, or a VTEP an agent makes.
    fn existing_or_lo(&mut self, t: &Text, lab: &Lab) -> Option<IfRef> {
        if let Some(node) = t.get_ref().strip_suffix(":lo") {
            let node_t = Spanned::new(
                t.span().start..t.span().start + node.len(),
                node.to_string(),
            );
            return self.node_ref(&node_t).map(|n| IfRef::new(n, "lo"));
        }
        self.existing_or_made(t, lab).map(|(r, _)| r)
    }

    fn fault_sysctl(&mut self, x: &scenario::FaultSysctl) -> Option<FaultAction> {
        let node = self.node_ref(&x.node)?;
        let (key, value) = self.sysctl_setting(&x.key, &x.value)?;
        Some(FaultAction::Sysctl { node, key, value })
    }

    fn fault_route(&mut self, x: &scenario::FaultRoute, lab: &Lab) -> Option<FaultAction> {
        let node = self.node_ref(&x.node)?;
        let to = if x.to.get_ref() == "default" {
            IpNet::V4(Ipv4Net::default())
        } else {
            let net = self.cidr(&x.to)?;
            if net.network() != net.addr() {
                self.err_help(
                    x.to.span(),
                    format!("`{net}` has host bits set"),
                    format!("write {}", net.trunc()),
                );
                return None;
            }
            net
        };
        if !lab.routes.iter().any(|r| r.node == node && r.to == to) {
            self.err_help(
                x.to.span(),
                format!(
                    "`{node}` has no [[route]] to {}",
                    if to.prefix_len() == 0 {
                        "default".to_string()
                    } else {
                        to.to_string()
                    }
                ),
                "a remove_route fault names one of the node's routes",
            );
            return None;
        }
        Some(FaultAction::RemoveRoute { node, to })
    }

    fn fault_vxlan(&mut self, x: &scenario::FaultVxlan, lab: &Lab) -> Option<FaultAction> {
        let (dev, kind) = self.existing_or_made(&x.dev, lab)?;
        if kind != IfKind::Vxlan {
            self.err(
                x.dev.span(),
                format!("`{}` is not a VXLAN device", dev.name),
            );
            return None;
        }
        let vni = match &x.vni {
            Some(v) if (1..=16_777_215).contains(v.get_ref()) => u32::try_from(*v.get_ref()).ok(),
            Some(v) => {
                self.err(
                    v.span(),
                    format!("VNI {} is outside 1..=16777215", v.get_ref()),
                );
                return None;
            }
            None => None,
        };
        let dstport = match &x.dstport {
            Some(p) => Some(self.port(p)?),
            None => None,
        };
        if vni.is_none() && dstport.is_none() {
            self.err_help(
                x.dev.span(),
                "a vxlan fault changes `vni`, `dstport` or both",
                "e.g. vxlan = { dev = \"host2:vxlan0\", vni = 6 }",
            );
            return None;
        }
        Some(FaultAction::Vxlan { dev, vni, dstport })
    }

    fn fault_nat(&mut self, x: &scenario::FaultNat, lab: &Lab) -> Option<FaultAction> {
        let node = self.node_ref(&x.node)?;
        let mine: Vec<usize> = lab
            .nat
            .iter()
            .enumerate()
            .filter(|(_, r)| r.node == node)
            .map(|(i, _)| i)
            .collect();
        let n = *x.rule.get_ref();
        let index = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| mine.get(i).copied());
        if index.is_none() {
            self.err_help(
                x.rule.span(),
                format!("`{node}` has no [[nat]] rule #{n}"),
                format!("it has {} (counted from 1, in file order)", mine.len()),
            );
        }
        Some(FaultAction::RemoveNat {
            node,
            index: index?,
        })
    }
}
