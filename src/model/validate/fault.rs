//! Checks of `[[fault]]` entries: a valid unique name, a description, and exactly one
//! action whose objects exist in the lab.

use ipnet::{IpNet, Ipv4Net};
use toml::Spanned;

use super::{Checker, IfKind};
use crate::model::names::check_word;
use crate::model::{Check, Exercise, Fault, FaultAction, IfRef, Lab};
use crate::scenario::{self, Scenario, Text};

/// The action keys of a `[[fault]]`, for messages.
const ACTIONS: &str =
    "remove_fdb, remove_neigh, sysctl, link_down, remove_route, mtu, vxlan, remove_nat";

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
            let x = x.get_ref();
            let (dev, _) = self.existing(&x.dev)?;
            let mac = self.mac_value(&x.mac)?;
            return Some(FaultAction::RemoveFdb { dev, mac });
        }
        if let Some(x) = &f.remove_neigh {
            let x = x.get_ref();
            let (dev, to) = (self.existing(&x.dev), self.ip(&x.to));
            return Some(FaultAction::RemoveNeigh {
                dev: dev?.0,
                to: to?,
            });
        }
        if let Some(x) = &f.sysctl {
            return self.fault_sysctl(x.get_ref());
        }
        if let Some(x) = &f.link_down {
            let dev = self.existing_or_lo(&x.get_ref().dev)?;
            return Some(FaultAction::LinkDown { dev });
        }
        if let Some(x) = &f.remove_route {
            return self.fault_route(x.get_ref(), lab);
        }
        if let Some(x) = &f.mtu {
            let x = x.get_ref();
            let dev = self.existing_or_lo(&x.dev);
            let mtu = *x.mtu.get_ref();
            if !(68..=65535).contains(&mtu) {
                self.err(x.mtu.span(), format!("MTU {mtu} is outside 68..=65535"));
                return None;
            }
            return Some(FaultAction::Mtu { dev: dev?, mtu });
        }
        if let Some(x) = &f.vxlan {
            return self.fault_vxlan(x.get_ref());
        }
        if let Some(x) = &f.remove_nat {
            return self.fault_nat(x.get_ref(), lab);
        }
        None
    }

    /// An existing interface, or `lo` of an existing node.
    fn existing_or_lo(&mut self, t: &Text) -> Option<IfRef> {
        if let Some(node) = t.get_ref().strip_suffix(":lo") {
            let node_t = Spanned::new(
                t.span().start..t.span().start + node.len(),
                node.to_string(),
            );
            return self.node_ref(&node_t).map(|n| IfRef::new(n, "lo"));
        }
        self.existing(t).map(|(r, _)| r)
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

    fn fault_vxlan(&mut self, x: &scenario::FaultVxlan) -> Option<FaultAction> {
        let (dev, kind) = self.existing(&x.dev)?;
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

    pub(super) fn exercises(&mut self, s: &Scenario, lab: &mut Lab) {
        let mut names = std::collections::HashSet::new();
        for x in &s.exercises {
            let name = x.name.get_ref();
            if let Err(why) = check_word(name, 32) {
                self.err(
                    x.name.span(),
                    format!("`{name}` is not a valid exercise name: {why}"),
                );
                continue;
            }
            if !names.insert(name.clone()) {
                self.err(
                    x.name.span(),
                    format!("exercise `{name}` is declared twice"),
                );
                continue;
            }
            let fault = x.fault.get_ref();
            if !lab.faults.iter().any(|f| &f.name == fault) {
                let known: Vec<&str> = lab.faults.iter().map(|f| f.name.as_str()).collect();
                self.err_help(
                    x.fault.span(),
                    format!("there is no fault `{fault}`"),
                    format!(
                        "declared faults: {}",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                continue;
            }
            if x.task.get_ref().trim().is_empty() {
                self.err(x.task.span(), "an exercise needs a task");
                continue;
            }
            let c = x.check.get_ref();
            let Some(from) = self.node_ref(&c.from) else {
                continue;
            };
            let check = match (&c.ping, &c.tcp) {
                (Some(t), None) => self.ip(t).map(Check::Ping),
                (None, Some(t)) => match t.get_ref().parse::<std::net::SocketAddr>() {
                    Ok(a) if a.port() != 0 => Some(Check::Tcp(a)),
                    _ => {
                        self.err(t.span(), format!("`{}` is not an IP:PORT", t.get_ref()));
                        None
                    }
                },
                _ => {
                    self.err_help(
                        x.check.span(),
                        "a check needs exactly one of `ping` and `tcp`",
                        "e.g. check = { from = \"hostA/container\", ping = \"10.0.0.14\" }",
                    );
                    None
                }
            };
            let Some(check) = check else { continue };
            lab.exercises.push(Exercise {
                name: name.clone(),
                fault: fault.clone(),
                task: x.task.get_ref().trim().to_string(),
                hints: x.hints.clone(),
                from,
                check,
            });
        }
    }
}
