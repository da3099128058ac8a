//! Planting a lab's faults (`vxlab break`) and undoing them exactly (`vxlab fix`).
//!
//! Planting first reads what the fault will remove or change, writes that down
//! ([`record`]), and only then changes the kernel; fixing puts back what the record says,
//! in reverse order, and deletes the record. Planting also flushes the ARP entries the
//! lab learned, so the symptom shows at once (the kernel learns them again). The faults themselves are lab data
//! ([`crate::model::Fault`]); this module is the kernel edge that applies them.

mod change;
mod check;
pub mod exercise;
pub mod nat;
pub mod ovs;
pub mod process;
pub mod record;
pub mod vxlan;

use std::io;

use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::neighbour::NeighbourState;

pub use record::{Record, Undo};

use crate::kernel::{Kernel, KernelError, Netlink};
use crate::model::{Fault, Lab, LabName};
use crate::nat::NatError;
use crate::netns;
use change::{Change, apply, del_message, index, neighbours, prepare, set_mtu};

/// Why a fault could not be planted or fixed.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The lab declares no such fault.
    #[error("lab `{lab}` has no fault `{fault}`; its faults: {known}")]
    Unknown {
        /// Lab.
        lab: String,
        /// Fault asked for.
        fault: String,
        /// The lab's faults.
        known: String,
    },
    /// The fault is planted already.
    #[error(
        "fault `{fault}` is already planted in lab `{lab}`; `vxlab fix {lab} {fault}` undoes it"
    )]
    AlreadyPlanted {
        /// Lab.
        lab: String,
        /// Fault.
        fault: String,
    },
    /// The fault is not planted.
    #[error("fault `{fault}` is not planted in lab `{lab}` (no record in {path})")]
    NotPlanted {
        /// Lab.
        lab: String,
        /// Fault.
        fault: String,
        /// Where the record would be.
        path: String,
    },
    /// What the fault removes or changes is not there to begin with.
    #[error("cannot plant `{fault}`: {why}; nothing was changed")]
    NothingThere {
        /// Fault.
        fault: String,
        /// What is missing.
        why: String,
    },
    /// The kernel refused a change.
    #[error("{command}: {source}")]
    Kernel {
        /// The change, as a shell command.
        command: String,
        /// What the kernel said.
        source: Box<KernelError>,
    },
    /// Changing a NAT rule failed.
    #[error("{0}")]
    Nat(#[from] NatError),
    /// A process started again did not get ready.
    #[error("{command}: {why}{}", log.as_ref().map(|l| format!(" (its log: {l})")).unwrap_or_default())]
    NotReady {
        /// How it was started.
        command: String,
        /// What went wrong.
        why: String,
        /// Its log file, if it has one.
        log: Option<String>,
    },
    /// `ovs-vsctl` failed.
    #[error("{command}: {why}")]
    Ovs {
        /// The command.
        command: String,
        /// What it said.
        why: String,
    },
    /// Reading or writing the record failed.
    #[error("fault record: {0}")]
    Record(#[from] io::Error),
    /// A fault name from the command line or a record is not a fault name.
    #[error(
        "`{}` is not a valid fault name: {why}; a fault name is 1 to 32 ASCII letters, \
         digits, `_` and `-` (`vxlab faults LAB` lists them)",
        fault.escape_debug()
    )]
    BadName {
        /// The name given.
        fault: String,
        /// What is wrong with it.
        why: String,
    },
    /// A record cannot be read.
    #[error(
        "fault record {path} cannot be read ({why}); nothing was changed. To put the lab \
         back as its scenario says, remove it and build it again: `vxlab down {lab}`, then \
         `vxlab up`"
    )]
    CorruptRecord {
        /// Lab.
        lab: LabName,
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// A record asks for something outside the lab, or not declared by its scenario.
    #[error(
        "fault record {path} is refused: {why}; nothing was changed (a record is only \
         replayed if everything in it belongs to lab `{lab}`). Remove the lab and build it \
         again: `vxlab down {lab}`, then `vxlab up`"
    )]
    Untrusted {
        /// Lab.
        lab: LabName,
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
}

fn kernel_err(command: impl Into<String>) -> impl FnOnce(KernelError) -> FaultError {
    let command = command.into();
    move |e| FaultError::Kernel {
        command,
        source: Box::new(e),
    }
}

fn nl_err(command: &str) -> impl FnOnce(rtnetlink::Error) -> FaultError + '_ {
    move |e| FaultError::Kernel {
        command: command.to_string(),
        source: Box::new(e.into()),
    }
}

/// The fault named `name` of `lab`.
pub fn find<'a>(lab: &'a Lab, name: &str) -> Result<&'a Fault, FaultError> {
    record::check_fault_name(name)?;
    lab.faults
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| FaultError::Unknown {
            lab: lab.name.to_string(),
            fault: name.to_string(),
            known: if lab.faults.is_empty() {
                "none".into()
            } else {
                lab.faults
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
}

/// Plants fault `name` of running lab `lab`: records what it changes, then changes it.
/// Fails, changing nothing, if the fault is planted already or what it removes is gone.
pub async fn plant(lab: &Lab, name: &str, nl: &mut Netlink) -> Result<Record, FaultError> {
    let fault = find(lab, name)?;
    if record::load(&lab.name, name)?.is_some() {
        return Err(FaultError::AlreadyPlanted {
            lab: lab.name.to_string(),
            fault: name.to_string(),
        });
    }
    let (changes, undo) = prepare(lab, fault, nl).await.map_err(|e| match e {
        FaultError::NothingThere { why, .. } => FaultError::NothingThere {
            fault: name.to_string(),
            why,
        },
        e => e,
    })?;
    if changes.is_empty() {
        return Err(FaultError::NothingThere {
            fault: name.to_string(),
            why: format!("the lab is already in that state ({})", fault.action),
        });
    }
    let rec = Record {
        lab: lab.name.clone(),
        fault: name.to_string(),
        action: fault.action.to_string(),
        changes: changes.iter().map(Change::command).collect(),
        undo,
    };
    record::save(&rec)?;
    for c in &changes {
        apply(c, nl).await?;
    }
    flush_learned(lab, nl).await;
    Ok(rec)
}

/// Forgets the ARP entries the lab's namespaces learned (as `ip neigh flush all` does; static
/// entries stay), so a planted fault shows at once instead of once the caches expire.
/// The kernel learns them again; nothing to record.
async fn flush_learned(lab: &Lab, nl: &mut Netlink) {
    for n in &lab.nodes {
        let Ok(h) = nl.handle(&n.netns) else { continue };
        let Ok(all) = neighbours(&h, AddressFamily::Inet).await else {
            continue;
        };
        for m in all.iter().filter(|m| u16::from(m.header.state) & 0xc0 == 0) {
            let _ = h.neighbours().del(del_message(m)).execute().await;
        }
    }
}

fn exists_ok(r: Result<(), KernelError>) -> Result<(), KernelError> {
    match r {
        Err(KernelError::Netlink(e)) if matches!(&*e, rtnetlink::Error::NetlinkError(m) if m.raw_code() == -libc::EEXIST) => {
            Ok(())
        }
        r => r,
    }
}

async fn put_back(u: &Undo, nl: &mut Netlink) -> Result<(), FaultError> {
    match u {
        Undo::Mtu { netns, dev, mtu } => set_mtu(nl, netns, dev, *mtu).await,
        Undo::NatRule(r) => Ok(r.restore()?),
        Undo::AddNeigh {
            netns,
            dev,
            to,
            lladdr,
        } => {
            // Replaced, not added: the node may have tried to resolve the address
            // meanwhile, leaving an INCOMPLETE or FAILED entry in the way.
            let h = nl.handle(netns).map_err(kernel_err("open namespace"))?;
            let i = index(&h, netns, dev).await?;
            let cmd =
                format!("ip -n {netns} neigh replace {to} lladdr {lladdr} dev {dev} nud permanent");
            // Never the all-zero MAC in place of an unreadable one (`check` refuses those).
            let mac: crate::model::Mac = lladdr.parse().map_err(|()| FaultError::Kernel {
                command: cmd.clone(),
                source: Box::new(KernelError::Io(io::Error::other(format!(
                    "`{lladdr}` is not a MAC address"
                )))),
            })?;
            h.neighbours()
                .add(i, *to)
                .link_layer_address(&mac.0)
                .state(NeighbourState::Permanent)
                .replace()
                .execute()
                .await
                .map_err(nl_err(&cmd))
        }
        Undo::StartProcess { netns, argv, ready } => {
            process::start(nl, netns, argv, ready.as_deref()).await
        }
        Undo::StopProcess { netns, argv } => {
            process::stop(netns, argv);
            Ok(())
        }
        Undo::OvsSet {
            db,
            interface,
            column,
            value,
        } => ovs::set(db, interface, column, value.as_deref()),
        Undo::Vxlan(state) => {
            let h = nl
                .handle(&state.netns)
                .map_err(kernel_err("open namespace"))?;
            if let Ok(i) = index(&h, &state.netns, &state.name).await {
                let cmd = format!("ip -n {} link del {}", state.netns, state.name);
                h.link().del(i).execute().await.map_err(nl_err(&cmd))?;
            }
            for op in u.ops() {
                nl.apply(&op).await.map_err(kernel_err(op.command()))?;
            }
            Ok(())
        }
        _ => {
            for op in u.ops() {
                exists_ok(nl.apply(&op).await).map_err(kernel_err(op.command()))?;
            }
            Ok(())
        }
    }
}

/// Undoes planted fault `name` of lab `lab`: puts back what its record says, in reverse
/// order, then deletes the record. Returns the record.
pub async fn fix(lab: &Lab, name: &str, nl: &mut Netlink) -> Result<Record, FaultError> {
    find(lab, name)?;
    let Some(rec) = record::load(&lab.name, name)? else {
        return Err(FaultError::NotPlanted {
            lab: lab.name.to_string(),
            fault: name.to_string(),
            path: record::path(&lab.name, name).display().to_string(),
        });
    };
    check::check(&rec, lab, name).map_err(|why| FaultError::Untrusted {
        lab: lab.name.clone(),
        path: record::path(&lab.name, name).display().to_string(),
        why,
    })?;
    for u in rec.undo.iter().rev() {
        put_back(u, nl).await?;
    }
    // Path MTUs learned while the fault was there ('frag needed') would outlive it by
    // ten minutes: flush them, as `ip route flush cache` does.
    for n in &lab.nodes {
        let _ = netns::write_sysctl(&n.netns, "net.ipv4.route.flush", "1");
    }
    record::remove(&lab.name, name)?;
    Ok(rec)
}
