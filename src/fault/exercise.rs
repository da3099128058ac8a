//! Exercises (`[[exercise]]`): in order, plant a fault, let the student repair the lab
//! with the usual tools, and pass them once their check works again (a ping, a TCP
//! connection from a node). Progress is kept in `/run/vxlab/LAB/exercises.json`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{FaultError, record};
use crate::kernel::Netlink;
use crate::lifecycle::state_dir;
use crate::model::{Check, Exercise, Lab, LabName};
use crate::netns;
use crate::state;

/// How an exercise ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its check passed after the student's repair.
    Passed,
    /// The student gave up; `vxlab` put the lab back.
    GaveUp,
}

/// The exercise under way in `p`, if any.
pub fn current<'a>(lab: &'a Lab, p: &Progress) -> Option<&'a Exercise> {
    p.current
        .as_ref()
        .and_then(|c| lab.exercises.iter().find(|x| &x.name == c))
}

/// A lab's exercise progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The exercise under way.
    pub current: Option<String>,
    /// Hints shown, per exercise.
    pub hints: BTreeMap<String, usize>,
    /// Finished exercises.
    pub results: BTreeMap<String, Outcome>,
    /// Checks that failed, per exercise.
    #[serde(default)]
    pub failed_checks: BTreeMap<String, usize>,
}

fn path(lab: &LabName) -> PathBuf {
    state_dir(lab).join("exercises.json")
}

/// The progress of lab `lab` (none yet: empty).
pub fn load(lab: &LabName) -> io::Result<Progress> {
    if state::existing_lab_dir(lab)?.is_none() {
        return Ok(Progress::default());
    }
    match state::read_file(&path(lab)) {
        Ok(t) => serde_json::from_str(&t).map_err(io::Error::other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Progress::default()),
        Err(e) => Err(e),
    }
}

fn save(lab: &LabName, p: &Progress) -> io::Result<()> {
    state::make_lab_dir(lab)?;
    state::write_file(
        &path(lab),
        serde_json::to_string_pretty(p).map_err(io::Error::other)?,
    )
}

/// Forgets the progress of lab `lab`.
pub fn reset(lab: &LabName) -> io::Result<()> {
    match fs::remove_file(path(lab)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether exercise `x`'s check works now (tried three times, for ARP and learning).
pub fn check(lab: &Lab, x: &Exercise) -> io::Result<bool> {
    let ns = lab
        .node(&x.from)
        .map(|n| n.netns.clone())
        .ok_or_else(|| io::Error::other(format!("no node {}", x.from)))?;
    let check = x.check;
    for _ in 0..3 {
        let ok = netns::run_in(&ns, move || match check {
            Check::Ping(ip) => Ok(Command::new("ping")
                .args(["-c", "1", "-W", "1", &ip.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success()),
            Check::Tcp(a) => Ok(TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok()),
        })?;
        if ok {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The exercise under way, starting the next one (planting its fault) if none is.
/// `None` when every exercise is finished.
pub async fn start<'a>(lab: &'a Lab, nl: &mut Netlink) -> Result<Option<&'a Exercise>, FaultError> {
    let mut p = load(&lab.name)?;
    if let Some(x) = current(lab, &p) {
        return Ok(Some(x));
    }
    let Some(x) = lab
        .exercises
        .iter()
        .find(|x| !p.results.contains_key(&x.name))
    else {
        return Ok(None);
    };
    if record::load(&lab.name, &x.fault)?.is_none() {
        super::plant(lab, &x.fault, nl).await?;
    }
    p.current = Some(x.name.clone());
    save(&lab.name, &p)?;
    Ok(Some(x))
}

/// Runs the check of the exercise under way: when it passes, the exercise is passed and
/// the fault's record dropped (the student repaired the lab). Returns the exercise and
/// whether it passed; `None` if no exercise is under way.
pub fn check_current(lab: &Lab) -> Result<Option<(&Exercise, bool)>, FaultError> {
    let mut p = load(&lab.name)?;
    let Some(x) = current(lab, &p) else {
        return Ok(None);
    };
    let ok = check(lab, x)?;
    if ok {
        p.results.insert(x.name.clone(), Outcome::Passed);
        p.current = None;
        record::remove(&lab.name, &x.fault)?;
    } else {
        *p.failed_checks.entry(x.name.clone()).or_default() += 1;
    }
    save(&lab.name, &p)?;
    Ok(Some((x, ok)))
}

/// The next hint of the exercise under way, and its number, if there is one left.
pub fn hint(lab: &Lab) -> Result<Option<(usize, &str)>, FaultError> {
    let mut p = load(&lab.name)?;
    let Some(x) = current(lab, &p) else {
        return Ok(None);
    };
    let n = p.hints.get(&x.name).copied().unwrap_or(0);
    let Some(h) = x.hints.get(n) else {
        return Ok(None);
    };
    p.hints.insert(x.name.clone(), n + 1);
    save(&lab.name, &p)?;
    Ok(Some((n + 1, h.as_str())))
}

/// Gives the exercise under way up: `vxlab fix` puts the lab back.
pub async fn give_up<'a>(
    lab: &'a Lab,
    nl: &mut Netlink,
) -> Result<Option<&'a Exercise>, FaultError> {
    let mut p = load(&lab.name)?;
    let Some(x) = current(lab, &p) else {
        return Ok(None);
    };
    if record::load(&lab.name, &x.fault)?.is_some() {
        super::fix(lab, &x.fault, nl).await?;
    }
    p.results.insert(x.name.clone(), Outcome::GaveUp);
    p.current = None;
    save(&lab.name, &p)?;
    Ok(Some(x))
}
