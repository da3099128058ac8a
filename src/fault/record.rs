//! What planting a fault changed, kept on disk until `vxlab fix` puts it back:
//! `/run/vxlab/LAB/faults/NAME.json`, written before the kernel is touched.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::FaultError;
use crate::lifecycle::state_dir;
use crate::model::{LabName, Mac, check_word};
use crate::plan::Op;
use crate::state;

/// One thing to put back, in the namespace it was taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "snake_case")]
pub enum Undo {
    /// `bridge fdb add MAC dev DEV [dst DST] self|master permanent`
    AddFdb {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
        /// MAC, `aa:bb:…`.
        mac: String,
        /// Remote VTEP.
        dst: Option<IpAddr>,
        /// `self` rather than `master`.
        self_: bool,
    },
    /// `ip neigh replace TO lladdr LLADDR dev DEV nud permanent`
    AddNeigh {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
        /// Neighbour IP.
        to: IpAddr,
        /// Its MAC.
        lladdr: String,
    },
    /// `sysctl -w KEY=VALUE`
    Sysctl {
        /// Namespace.
        netns: String,
        /// Key.
        key: String,
        /// Value before the fault.
        value: String,
    },
    /// `ip link set DEV up`
    LinkUp {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
    },
    /// `ip route add TO [via VIA] [dev DEV] [metric M]`
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
    /// `ip link set DEV mtu MTU`
    Mtu {
        /// Namespace.
        netns: String,
        /// Device.
        dev: String,
        /// MTU before the fault.
        mtu: u32,
    },
    /// Delete the VXLAN device and recreate it as it was.
    Vxlan(Box<super::vxlan::VxlanState>),
    /// Put a NAT rule back at its place in its chain.
    NatRule(Box<super::nat::SavedRule>),
    /// Start a process again, as `up` started it, and wait until it is ready.
    StartProcess {
        /// Namespace.
        netns: String,
        /// Its command line (`vxlab` for vxlab's own programs).
        argv: Vec<String>,
        /// What it logs once ready, if it says.
        ready: Option<String>,
    },
    /// Stop a process (one restarted around a change to the device it manages).
    StopProcess {
        /// Namespace.
        netns: String,
        /// Its command line.
        argv: Vec<String>,
    },
    /// `ovs-vsctl set Interface IFACE COLUMN=VALUE` (or remove the key it did not have).
    OvsSet {
        /// `--db` of the host's Open vSwitch.
        db: String,
        /// Interface.
        interface: String,
        /// Column, or `COLUMN:KEY`.
        column: String,
        /// The value before the fault, as `ovs-vsctl get` printed it; `None`: no such key.
        value: Option<String>,
    },
}

impl Undo {
    /// The plan operations that put this back (the kernel backend applies them). An
    /// unreadable MAC gives no operation (a record holding one is refused before `fix`
    /// acts: see [`super::check`]); it never becomes the all-zero flooding entry.
    pub fn ops(&self) -> Vec<Op> {
        match self.clone() {
            Self::AddFdb {
                netns,
                dev,
                mac: m,
                dst,
                self_,
            } => m
                .parse()
                .map(|mac| Op::AddFdb {
                    netns,
                    dev,
                    mac,
                    dst,
                    self_,
                })
                .into_iter()
                .collect(),
            Self::AddNeigh {
                netns,
                dev,
                to,
                lladdr,
            } => lladdr
                .parse::<Mac>()
                .map(|lladdr| Op::AddNeigh {
                    netns,
                    dev,
                    to,
                    lladdr,
                })
                .into_iter()
                .collect(),
            Self::Sysctl { netns, key, value } => vec![Op::Sysctl { netns, key, value }],
            Self::LinkUp { netns, dev } => vec![Op::LinkUp { netns, dev }],
            Self::AddRoute {
                netns,
                to,
                via,
                dev,
                metric,
            } => vec![Op::AddRoute {
                netns,
                to,
                via,
                dev,
                metric,
            }],
            Self::Vxlan(v) => v.ops(),
            Self::StartProcess { netns, argv, .. } => vec![Op::Spawn {
                netns,
                program: crate::model::Program::Command(argv),
            }],
            Self::Mtu { .. }
            | Self::NatRule(_)
            | Self::StopProcess { .. }
            | Self::OvsSet { .. } => Vec::new(),
        }
    }

    /// The shell commands that put this back.
    pub fn commands(&self) -> Vec<String> {
        match self {
            Self::Mtu { netns, dev, mtu } => {
                vec![format!("ip -n {netns} link set {dev} mtu {mtu}")]
            }
            Self::NatRule(r) => vec![r.restore_command()],
            Self::AddNeigh {
                netns,
                dev,
                to,
                lladdr,
            } => vec![format!(
                "ip -n {netns} neigh replace {to} lladdr {lladdr} dev {dev} nud permanent"
            )],
            Self::StopProcess { netns, argv } => vec![super::process::stop_command(netns, argv)],
            Self::OvsSet {
                db,
                interface,
                column,
                value,
            } => vec![super::ovs::set_command(
                db,
                interface,
                column,
                value.as_deref(),
            )],
            Self::Vxlan(v) => {
                let mut c = vec![format!("ip -n {} link del {}", v.netns, v.name)];
                c.extend(self.ops().iter().map(Op::command));
                c
            }
            _ => self.ops().iter().map(Op::command).collect(),
        }
    }
}

/// A planted fault: what was changed and how to put it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Lab name.
    pub lab: LabName,
    /// Fault name.
    pub fault: String,
    /// What planting did, one line (the fault's action).
    pub action: String,
    /// The commands that planted it.
    pub changes: Vec<String>,
    /// What `fix` puts back, applied in reverse order.
    pub undo: Vec<Undo>,
}

/// Checks a fault name from outside a scenario (the command line, a record's file name):
/// as `[[fault]] name` is checked, so it cannot make a path.
pub fn check_fault_name(fault: &str) -> Result<(), FaultError> {
    check_word(fault, 32).map_err(|why| FaultError::BadName {
        fault: fault.to_string(),
        why: why.split(';').next().unwrap_or_default().to_string(),
    })
}

/// Directory of lab `lab`'s planted faults.
pub fn dir(lab: &LabName) -> PathBuf {
    state_dir(lab).join("faults")
}

/// File of fault `fault` of lab `lab` (`fault` is checked with [`check_fault_name`] first).
pub fn path(lab: &LabName, fault: &str) -> PathBuf {
    dir(lab).join(format!("{fault}.json"))
}

/// Writes `r` (before the kernel is changed), mode 0600.
pub fn save(r: &Record) -> Result<(), FaultError> {
    check_fault_name(&r.fault)?;
    state::make_sub_dir(&r.lab, "faults")?;
    let text = serde_json::to_string_pretty(r).map_err(io::Error::other)?;
    let p = path(&r.lab, &r.fault);
    let tmp = p.with_extension("json.tmp");
    state::write_file(&tmp, text)?;
    fs::rename(tmp, p)?;
    Ok(())
}

/// The record of planted fault `fault` of lab `lab`, if it is planted. A record that
/// cannot be read is an error naming the file and the way out.
pub fn load(lab: &LabName, fault: &str) -> Result<Option<Record>, FaultError> {
    check_fault_name(fault)?;
    if state::existing_lab_dir(lab)?.is_none() {
        return Ok(None);
    }
    let p = path(lab, fault);
    let corrupt = |why: String| FaultError::CorruptRecord {
        lab: lab.clone(),
        path: p.display().to_string(),
        why,
    };
    match state::read_file(&p) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| corrupt(e.to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(corrupt(e.to_string())),
    }
}

/// Removes the record of fault `fault` (once fixed).
pub fn remove(lab: &LabName, fault: &str) -> Result<(), FaultError> {
    check_fault_name(fault)?;
    match fs::remove_file(path(lab, fault)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Names of the faults of lab `lab` planted now, sorted (files not named like a fault are
/// left out).
pub fn planted(lab: &LabName) -> Vec<String> {
    if !state::has_lab_dir(lab) {
        return Vec::new();
    }
    let mut v: Vec<String> = fs::read_dir(dir(lab))
        .map(|d| {
            d.filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let fault = name.strip_suffix(".json")?;
                check_word(fault, 32).ok()?;
                Some(fault.to_string())
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_round_trips_through_json_and_names_its_commands() {
        let u = Undo::AddNeigh {
            netns: "vx.l.hostA.sandbox_2".into(),
            dev: "vxlan0".into(),
            to: "10.0.0.14".parse().unwrap(),
            lladdr: "02:00:00:00:00:0e".into(),
        };
        let text = serde_json::to_string(&u).unwrap();
        assert!(text.contains("\"undo\":\"add_neigh\""), "{text}");
        assert_eq!(serde_json::from_str::<Undo>(&text).unwrap(), u);
        assert_eq!(
            u.commands(),
            vec![
                "ip -n vx.l.hostA.sandbox_2 neigh replace 10.0.0.14 lladdr 02:00:00:00:00:0e dev vxlan0 nud permanent"
            ]
        );
        let m = Undo::Mtu {
            netns: "vx.l.hostA".into(),
            dev: "eth0".into(),
            mtu: 1500,
        };
        assert_eq!(
            m.commands(),
            vec!["ip -n vx.l.hostA link set eth0 mtu 1500"]
        );
    }
}
