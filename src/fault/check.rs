//! Checking a fault record against the lab's own model before `fix` acts on it: a record
//! is a file, and a file can be edited. Every namespace must be one of the lab's, every
//! interface name valid, every MAC readable, and every sysctl, command line, NAT rule
//! and Open vSwitch setting one the scenario itself declares. A record that fails is
//! refused whole, before anything is changed.

use crate::model::{FaultAction, Lab, Mac, check_ifname};

use super::record::{Record, Undo};
use super::{nat, process};

/// Why record `rec` may not be replayed in `lab` (`Ok`: it may).
pub fn check(rec: &Record, lab: &Lab, fault: &str) -> Result<(), String> {
    if rec.lab != lab.name {
        return Err(format!(
            "it is a record of lab `{}`, not of `{}`",
            rec.lab, lab.name
        ));
    }
    if rec.fault != fault {
        return Err(format!(
            "it is the record of fault `{}`, not of `{fault}`",
            rec.fault
        ));
    }
    for u in &rec.undo {
        undo(u, lab)?;
    }
    Ok(())
}

fn netns(lab: &Lab, ns: &str) -> Result<(), String> {
    if lab.nodes.iter().any(|n| n.netns == ns) {
        Ok(())
    } else {
        Err(format!(
            "namespace `{}` is not one of lab `{}`'s",
            ns.escape_debug(),
            lab.name
        ))
    }
}

fn ifname(name: &str) -> Result<(), String> {
    check_ifname(name).map_err(|why| {
        format!(
            "`{}` is not a valid interface name: {why}",
            name.escape_debug()
        )
    })
}

fn mac(s: &str) -> Result<(), String> {
    s.parse::<Mac>()
        .map(|_| ())
        .map_err(|()| format!("`{}` is not a MAC address", s.escape_debug()))
}

/// Command lines of the lab's processes, as `up` started them.
fn is_lab_command(lab: &Lab, argv: &[String]) -> bool {
    (0..lab.processes.len()).any(|i| process::command_line(lab, i) == argv)
}

fn undo(u: &Undo, lab: &Lab) -> Result<(), String> {
    match u {
        Undo::AddFdb {
            netns: ns,
            dev,
            mac: m,
            ..
        } => {
            netns(lab, ns)?;
            ifname(dev)?;
            mac(m)
        }
        Undo::AddNeigh {
            netns: ns,
            dev,
            lladdr,
            ..
        } => {
            netns(lab, ns)?;
            ifname(dev)?;
            mac(lladdr)
        }
        Undo::Sysctl {
            netns: ns,
            key,
            value,
        } => {
            netns(lab, ns)?;
            let declared = lab
                .faults
                .iter()
                .any(|f| matches!(&f.action, FaultAction::Sysctl { key: k, .. } if k == key));
            if !declared {
                return Err(format!(
                    "sysctl `{}` is not one the lab's faults set",
                    key.escape_debug()
                ));
            }
            if value.chars().any(char::is_control) {
                return Err(format!(
                    "the value of sysctl {key} holds control characters: `{}`",
                    value.escape_debug()
                ));
            }
            Ok(())
        }
        Undo::LinkUp { netns: ns, dev } | Undo::Mtu { netns: ns, dev, .. } => {
            netns(lab, ns)?;
            ifname(dev)
        }
        Undo::AddRoute { netns: ns, dev, .. } => {
            netns(lab, ns)?;
            dev.as_deref().map_or(Ok(()), ifname)
        }
        Undo::Vxlan(v) => {
            netns(lab, &v.netns)?;
            netns(lab, &v.created_in)?;
            ifname(&v.name)?;
            for d in v.master.iter().chain(&v.dev) {
                ifname(d)?;
            }
            mac(&v.mac)?;
            for (_, m) in &v.neighbours {
                mac(m)?;
            }
            for f in &v.fdb {
                mac(&f.mac)?;
            }
            Ok(())
        }
        Undo::NatRule(r) => {
            netns(lab, &r.netns)?;
            if let Some(args) = &r.iptables
                && !nat::lab_iptables_args(lab).contains(args)
            {
                return Err(format!(
                    "iptables arguments `{}` are not those of any of the lab's NAT rules",
                    args.join(" ").escape_debug()
                ));
            }
            if r.family != "ip" || !["nat", crate::nat::TABLE].contains(&r.table.as_str()) {
                return Err(format!(
                    "table `{} {}` is not one vxlab puts NAT rules in",
                    r.family.escape_debug(),
                    r.table.escape_debug()
                ));
            }
            Ok(())
        }
        Undo::StartProcess {
            netns: ns, argv, ..
        }
        | Undo::StopProcess { netns: ns, argv } => {
            netns(lab, ns)?;
            if is_lab_command(lab, argv) {
                Ok(())
            } else {
                Err(format!(
                    "command `{}` is not one of the lab's processes",
                    argv.join(" ").escape_debug()
                ))
            }
        }
        Undo::OvsSet {
            db,
            interface,
            column,
            ..
        } => {
            let hosts = lab.ovs_hosts();
            if !hosts.iter().any(|h| h.db(&lab.name) == *db) {
                return Err(format!(
                    "`{}` is not the database of one of the lab's Open vSwitch hosts",
                    db.escape_debug()
                ));
            }
            let declared = lab.faults.iter().any(|f| {
                matches!(&f.action, FaultAction::OvsSet { interface: i, column: c, .. }
                    if i == interface && c == column)
            });
            if declared {
                Ok(())
            } else {
                Err(format!(
                    "column `{}` of interface `{}` is not one the lab's faults set",
                    column.escape_debug(),
                    interface.escape_debug()
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = r#"
[lab]
name = "l"
[[host]]
name = "host"
[[namespace]]
name = "host/ns1"
[[veth]]
name = "host/ns1:veth0"
peer = "host:veth1"
[[process]]
node = "host"
http = 8080
[[fault]]
name = "port-down"
description = "x"
link_down = { dev = "host:veth1" }
[[fault]]
name = "forwarding"
description = "z"
sysctl = { node = "host", key = "net.ipv4.ip_forward", value = 1 }
"#;

    fn record(undo: Vec<Undo>) -> Record {
        Record {
            lab: "l".parse().unwrap(),
            fault: "port-down".into(),
            action: String::new(),
            changes: Vec::new(),
            undo,
        }
    }

    #[test]
    fn only_the_labs_own_names_and_commands_pass() {
        let lab = Lab::from_source(LAB).unwrap();
        let ns = || "vx.l.host".to_string();
        let argv = process::command_line(&lab, 0);
        let good = vec![
            Undo::LinkUp {
                netns: ns(),
                dev: "veth1".into(),
            },
            Undo::Sysctl {
                netns: ns(),
                key: "net.ipv4.ip_forward".into(),
                value: "0".into(),
            },
            Undo::StartProcess {
                netns: ns(),
                argv: argv.clone(),
                ready: None,
            },
            Undo::AddNeigh {
                netns: "vx.l.host.ns1".into(),
                dev: "veth0".into(),
                to: "10.0.0.1".parse().unwrap(),
                lladdr: "02:00:00:00:00:01".into(),
            },
        ];
        assert_eq!(check(&record(good), &lab, "port-down"), Ok(()));
        let bad: Vec<(Undo, &str)> = vec![
            (
                Undo::LinkUp {
                    netns: "../netns/vx.other.host".into(),
                    dev: "veth1".into(),
                },
                "is not one of lab `l`'s",
            ),
            (
                Undo::LinkUp {
                    netns: "vx.other.host".into(),
                    dev: "veth1".into(),
                },
                "is not one of lab `l`'s",
            ),
            (
                Undo::Mtu {
                    netns: ns(),
                    dev: "../x".into(),
                    mtu: 1500,
                },
                "not a valid interface name",
            ),
            (
                Undo::Sysctl {
                    netns: ns(),
                    key: "kernel.core_pattern".into(),
                    value: "|/tmp/x".into(),
                },
                "not one the lab's faults set",
            ),
            (
                Undo::StartProcess {
                    netns: ns(),
                    argv: vec!["sh".into(), "-c".into(), "id".into()],
                    ready: None,
                },
                "not one of the lab's processes",
            ),
            (
                Undo::StopProcess {
                    netns: ns(),
                    argv: vec!["sshd".into()],
                },
                "not one of the lab's processes",
            ),
            (
                Undo::AddFdb {
                    netns: ns(),
                    dev: "veth1".into(),
                    mac: "garbage".into(),
                    dst: None,
                    self_: false,
                },
                "is not a MAC address",
            ),
        ];
        for (u, why) in bad {
            let e = check(&record(vec![u.clone()]), &lab, "port-down").unwrap_err();
            assert!(e.contains(why), "{u:?}: {e}");
        }
        let mut other = record(Vec::new());
        other.lab = "m".parse().unwrap();
        assert!(check(&other, &lab, "port-down").is_err());
        assert!(check(&record(Vec::new()), &lab, "forwarding").is_err());
    }

    #[test]
    fn an_unreadable_mac_never_becomes_a_flood_entry() {
        let u = Undo::AddFdb {
            netns: "vx.l.host".into(),
            dev: "vxlan0".into(),
            mac: "not-a-mac".into(),
            dst: Some("192.0.2.1".parse().unwrap()),
            self_: true,
        };
        assert!(u.ops().is_empty(), "{:?}", u.ops());
    }
}
