//! Bringing labs up and down: all-or-nothing `up`, idempotent `down`, one vxlab at a time
//! per lab (a lock per lab name), and the record of which labs are up.
//!
//! Ownership is by name: every namespace of lab `L` is called `vx.L.*`, so `down` finds
//! everything even when `up` was killed half way and left no record.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::kernel::{Kernel, KernelError, Teardown};
use crate::model::{Lab, LabName, OvsDatapath, netns_prefix};
use crate::netns;
use crate::plan::{Op, plan};
use crate::state;

pub use crate::state::STATE_DIR;

/// Environment variable of the failure-injection test hook: `vxlab up` fails at this
/// 1-based step (see [`crate::kernel::FailAt`]).
pub const FAIL_AT_STEP_ENV: &str = "VXLAB_FAIL_AT_STEP";

/// Why `up` failed.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// Some of the lab's namespaces already exist.
    #[error("lab `{lab}` is already up ({found} exists); run `vxlab down {lab}` first")]
    AlreadyUp {
        /// Lab name.
        lab: String,
        /// One namespace found.
        found: String,
    },
    /// Another vxlab holds the lab's lock.
    #[error("another vxlab is working on lab `{0}` right now; wait for it to finish")]
    Busy(String),
    /// The machine lacks something the lab needs; nothing was changed.
    #[error("{0}")]
    Preflight(String),
    /// A step failed; everything was rolled back.
    #[error("step {step} of {total} failed because {cause}\n  the step: {command}\nthe lab was rolled back: everything the lab had created was removed{}", rollback_note(.rollback))]
    Step {
        /// 1-based step number.
        step: usize,
        /// Number of steps.
        total: usize,
        /// The equivalent shell command.
        command: String,
        /// What the kernel said (in the message, not as the error's source: it was
        /// said once already).
        cause: Box<KernelError>,
        /// What the rollback did.
        rollback: Box<Teardown>,
    },
    /// Recording the lab failed.
    #[error("cannot write {path}: {cause}")]
    State {
        /// File.
        path: PathBuf,
        /// Cause (in the message, not as the error's source: it was said once already).
        cause: io::Error,
    },
}

fn rollback_note(t: &Teardown) -> String {
    if t.errors.is_empty() {
        String::new()
    } else {
        format!(
            ", except what follows (remove it with `vxlab down`):\n  {}",
            t.errors.join("\n  ")
        )
    }
}

/// The record directory of lab `lab`.
pub fn state_dir(lab: &LabName) -> PathBuf {
    state::lab_dir(lab)
}

/// Directory of the labs' lock files (not a valid lab name, so never taken for a lab).
const LOCK_DIR: &str = ".locks";

/// Holds the lock of one lab while alive: no other vxlab builds, removes or collects it.
pub struct LabLock {
    flock: Flock<File>,
    path: PathBuf,
    _shared: Flock<File>,
}

impl LabLock {
    /// Releases the lock and deletes its file (once the lab is gone, or was never built): a
    /// vxlab waiting on the deleted file sees it was replaced and locks the new one.
    pub fn release_removed(self) {
        let _ = fs::remove_file(&self.path);
        drop(self.flock);
    }
}

/// Takes lab `lab`'s lock (a `flock` on `/run/vxlab/.locks/LAB`), so `up` and `down` of one
/// lab never overlap while those of different labs never wait on each other. With `wait`,
/// waits (saying so) while another vxlab works on the lab; without, `Ok(None)` if it does.
pub fn lock_lab(lab: &LabName, wait: bool) -> Result<Option<LabLock>, UpError> {
    let dir = Path::new(STATE_DIR).join(LOCK_DIR);
    let path = dir.join(lab.as_str());
    let state = |cause| UpError::State {
        path: path.clone(),
        cause,
    };
    state::make_root()
        .and_then(|()| state::make_dir_at(&dir))
        .map_err(state)?;
    // Shared among labs; exclusive only for vxlab versions that locked every lab at once
    // with a `flock` on /run/vxlab itself, so those and these never overlap.
    let root = File::open(STATE_DIR).map_err(state)?;
    let shared = match Flock::lock(root, FlockArg::LockSharedNonblock) {
        Ok(f) => f,
        Err(_) if !wait => return Ok(None),
        Err((root, _)) => {
            eprintln!("vxlab: waiting for an older vxlab to finish building or removing a lab…");
            Flock::lock(root, FlockArg::LockShared).map_err(|_| UpError::Busy(lab.to_string()))?
        }
    };
    let mut said = false;
    loop {
        state::make_dir_at(&dir).map_err(state)?;
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(state)?;
        let flock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(flock) => flock,
            Err(_) if !wait => return Ok(None),
            Err((file, _)) => {
                if !said {
                    eprintln!(
                        "vxlab: waiting for another vxlab to finish building or removing lab `{lab}`…"
                    );
                    said = true;
                }
                Flock::lock(file, FlockArg::LockExclusive)
                    .map_err(|_| UpError::Busy(lab.to_string()))?
            }
        };
        // The holder before us may have removed the lab and its lock file: lock the
        // file that is there now.
        let held = flock.metadata().map_err(state)?;
        if fs::symlink_metadata(&path).is_ok_and(|m| m.ino() == held.ino() && m.dev() == held.dev())
        {
            return Ok(Some(LabLock {
                flock,
                path,
                _shared: shared,
            }));
        }
    }
}

/// Takes lab `lab`'s lock, waiting while another vxlab works on it.
pub fn lock(lab: &LabName) -> Result<LabLock, UpError> {
    lock_lab(lab, true)?.ok_or_else(|| UpError::Busy(lab.to_string()))
}

/// Namespaces of lab `lab` that exist now.
pub fn namespaces_of(lab: &LabName) -> Vec<String> {
    let prefix = netns_prefix(lab);
    netns::list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Names of every lab with a namespace or a record on this machine. Names that are not
/// valid lab names (so not vxlab's) are left out.
pub fn labs_up() -> Vec<LabName> {
    let mut labs: Vec<LabName> = netns::list()
        .iter()
        .filter_map(|n| LabName::new(n.strip_prefix("vx.")?.split('.').next()?).ok())
        .collect();
    if let Ok(d) = fs::read_dir(STATE_DIR) {
        labs.extend(d.filter_map(|e| {
            let e = e.ok()?;
            let name = LabName::new(e.file_name().to_str()?).ok()?;
            e.file_type().ok()?.is_dir().then_some(name)
        }));
    }
    labs.sort();
    labs.dedup();
    labs
}

/// File in a lab's record directory whose presence says its IPVS services are emulated.
pub const EMULATED_IPVS_FILE: &str = "emulated-ipvs";

/// Whether lab `name` was brought up with its IPVS services emulated.
pub fn recorded_ipvs_emulated(name: &LabName) -> bool {
    state::has_lab_dir(name) && state_dir(name).join(EMULATED_IPVS_FILE).exists()
}

/// File in a lab's record directory naming the datapath of its Open vSwitch bridges.
pub const OVS_DATAPATH_FILE: &str = "ovs-datapath";

/// The datapath lab `name`'s Open vSwitch bridges were built on, if it runs OVS.
pub fn recorded_ovs_datapath(name: &LabName) -> Option<OvsDatapath> {
    state::existing_lab_dir(name).ok()??;
    state::read_file(&state_dir(name).join(OVS_DATAPATH_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Checks that Open vSwitch is installed if the lab runs it, and that the kernel has the
/// datapath its bridges are to use.
fn preflight_ovs(lab: &Lab) -> Result<(), UpError> {
    if !lab.uses_ovs() {
        return Ok(());
    }
    if let Some(program) = crate::ovs::missing_program() {
        return Err(UpError::Preflight(format!(
            "lab `{}` runs Open vSwitch, and `{program}` is not installed (Debian package \
             openvswitch-switch); nothing was changed",
            lab.name
        )));
    }
    if lab.ovs_datapath == OvsDatapath::System && !crate::ovs::kernel_has_datapath() {
        return Err(UpError::Preflight(format!(
            "this kernel has no Open vSwitch datapath: kernel module openvswitch is not loaded \
             ({} does not exist; `modprobe openvswitch` where modules can be loaded), and lab \
             `{}` puts its OVS bridges on the kernel datapath; bring it up with \
             --ovs-datapath netdev to use OVS's userspace datapath instead; nothing was changed",
            crate::ovs::MODULE_DIR,
            lab.name
        )));
    }
    if lab.ovs_datapath == OvsDatapath::Netdev
        && let Err(e) = crate::ovs::open_tun()
    {
        return Err(UpError::Preflight(format!(
            "lab `{}` runs Open vSwitch's userspace datapath, which needs {} to make its \
             bridges' ports, and this user cannot open it ({e}); it is usually mode 0666 \
             (`sudo chmod 666 {}`), or run vxlab with sudo; nothing was changed",
            lab.name,
            crate::ovs::TUN,
            crate::ovs::TUN
        )));
    }
    Ok(())
}

/// Checks that the kernel has IPVS if the lab needs it, and that the programs NAT rules
/// are applied with are installed.
fn preflight_nat(lab: &Lab) -> Result<(), UpError> {
    if let Some(s) = lab.ipvs.iter().find(|s| !s.emulated)
        && let Some(why) = crate::ipvs::unavailable()
    {
        return Err(UpError::Preflight(format!(
            "{why}, and lab `{}` has IPVS service {} in {}; bring it up with --emulate-ipvs to \
             build its IPVS services with nftables instead; nothing was changed",
            lab.name, s, s.node
        )));
    }
    let nft = !lab.nat.is_empty() || !lab.services.is_empty() || lab.ipvs_emulated();
    let xt = lab.nat.iter().any(|n| n.ipvs) && !lab.ipvs_emulated();
    for (needed, program, package) in [(nft, "nft", "nftables"), (xt, "iptables", "iptables")] {
        if needed && !crate::nat::apply::in_path(program) {
            return Err(UpError::Preflight(format!(
                "lab `{}` has NAT rules, applied with `{program}`, which is not installed \
                 (Debian package {package}); nothing was changed",
                lab.name
            )));
        }
    }
    Ok(())
}

/// Checks, without changing anything, that this machine can build `lab`.
pub fn preflight(lab: &Lab) -> Result<(), UpError> {
    preflight_nat(lab)?;
    preflight_ovs(lab)?;
    for s in &lab.sysctls {
        // An emulated lab does not write IPVS sysctls (see `vxlab script`).
        if lab.ipvs_emulated() && s.key.starts_with("net.ipv4.vs.") {
            continue;
        }
        let parts: Vec<&str> = s.key.split('.').collect();
        // Per-interface keys (net.ipv4.conf.IF.x) exist only once the interface does.
        if matches!(parts.get(2), Some(&("conf" | "neigh"))) {
            continue;
        }
        let dir = Path::new("/proc/sys").join(parts[..parts.len() - 1].join("/"));
        if !dir.is_dir() {
            let module = match parts.get(..3) {
                Some(["net", "ipv4", "vs"]) => {
                    " (kernel module ip_vs: `modprobe ip_vs`)".to_string()
                }
                Some(["net", "netfilter", ..]) => " (kernel module nf_conntrack)".to_string(),
                Some(["net", "bridge", ..]) => " (kernel module br_netfilter)".to_string(),
                _ => String::new(),
            };
            return Err(UpError::Preflight(format!(
                "this kernel has no sysctl {}: {} is missing{module}; nothing was changed",
                s.key,
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Builds `lab` with `kernel`. On failure at any step, everything created is removed
/// and the failing step is named. `source` (the scenario text) is recorded for `status`,
/// `exec` and `down`. `on_step` sees each operation before it is applied.
pub async fn up<K: Kernel>(
    lab: &Lab,
    source: &str,
    kernel: &mut K,
    mut on_step: impl FnMut(usize, usize, &Op),
) -> Result<(), UpError> {
    let building = begin(lab, source)?;
    for (i, op) in building.ops.iter().enumerate() {
        on_step(i + 1, building.ops.len(), op);
        building.step(i, kernel).await?;
    }
    Ok(())
}

/// A lab being built one operation at a time (see [`begin`]): holds the lock while alive.
/// Dropped half way, it leaves the lab half built; remove it with [`down`].
pub struct Building {
    lock: std::sync::Mutex<Option<LabLock>>,
    lab: LabName,
    dir: PathBuf,
    /// The plan, in order.
    pub ops: Vec<Op>,
}

/// Starts building `lab`: takes the lock, checks that the lab is not up and that this
/// machine can build it, and records `source` (a stale record, of a lab whose namespaces
/// vanished without `down`, is cleared first, saying so). Then apply each step with
/// [`Building::step`], in order.
pub fn begin(lab: &Lab, source: &str) -> Result<Building, UpError> {
    let lock = lock(&lab.name)?;
    match start(lab, source) {
        Ok(ops) => Ok(Building {
            lock: std::sync::Mutex::new(Some(lock)),
            lab: lab.name.clone(),
            dir: state_dir(&lab.name),
            ops,
        }),
        Err(e) => {
            lock.release_removed();
            Err(e)
        }
    }
}

/// [`begin`] once the lock is held: the plan.
fn start(lab: &Lab, source: &str) -> Result<Vec<Op>, UpError> {
    if let Some(found) = namespaces_of(&lab.name).into_iter().next() {
        return Err(UpError::AlreadyUp {
            lab: lab.name.to_string(),
            found,
        });
    }
    preflight(lab)?;
    let dir = state_dir(&lab.name);
    let stale = state::existing_lab_dir(&lab.name).map_err(|cause| UpError::State {
        path: dir.clone(),
        cause,
    })?;
    if stale.is_some() {
        fs::remove_dir_all(&dir).map_err(|cause| UpError::State {
            path: dir.clone(),
            cause,
        })?;
        eprintln!(
            "vxlab: lab `{}` had a record ({}) but none of its namespaces: they vanished \
             without `vxlab down`; cleared the stale record (its planted faults and exercise \
             progress with it)",
            lab.name,
            dir.display()
        );
    }
    let file = dir.join("scenario.toml");
    state::make_lab_dir(&lab.name)
        .and_then(|_| state::write_file(&file, source))
        .map_err(|cause| UpError::State { path: file, cause })?;
    if lab.ipvs_emulated() {
        let file = dir.join(EMULATED_IPVS_FILE);
        let text =
            "IPVS services of this lab are emulated with nftables (vxlab up --emulate-ipvs)\n";
        state::write_file(&file, text).map_err(|cause| UpError::State { path: file, cause })?;
    }
    if lab.uses_ovs() {
        let file = dir.join(OVS_DATAPATH_FILE);
        let text = format!("{}\n", lab.ovs_datapath);
        state::write_file(&file, text).map_err(|cause| UpError::State { path: file, cause })?;
    }
    Ok(plan(lab))
}

impl Building {
    /// Applies step `i` (0-based) of the plan. If it fails, everything the lab had created
    /// is removed and the error names the step.
    pub async fn step<K: Kernel>(&self, i: usize, kernel: &mut K) -> Result<(), UpError> {
        let Some(op) = self.ops.get(i) else {
            return Ok(());
        };
        if let Err(source) = kernel.apply(op).await {
            let rollback = kernel.teardown(&self.lab).await;
            if state::has_lab_dir(&self.lab) {
                let _ = fs::remove_dir_all(&self.dir);
            }
            if let Some(lock) = self.lock.lock().ok().and_then(|mut l| l.take()) {
                lock.release_removed();
            }
            return Err(UpError::Step {
                step: i + 1,
                total: self.ops.len(),
                command: op.command(),
                cause: Box::new(source),
                rollback: Box::new(rollback),
            });
        }
        if i + 1 == self.ops.len() {
            let file = self.dir.join(COMPLETE_FILE);
            state::write_file(&file, "").map_err(|cause| UpError::State { path: file, cause })?;
        }
        Ok(())
    }
}

/// Written in a lab's record once its last step succeeded: a lab with namespaces but no
/// such mark, and no vxlab building it, is the remains of an interrupted `up`.
const COMPLETE_FILE: &str = "complete";

/// Whether lab `name` finished building.
pub fn is_complete(name: &LabName) -> bool {
    state::has_lab_dir(name) && state_dir(name).join(COMPLETE_FILE).exists()
}

/// What `gc` found and removed.
#[derive(Debug, serde::Serialize)]
pub struct Collected {
    /// Lab name.
    pub lab: LabName,
    /// Why it was taken for an orphan.
    pub reason: String,
    /// What removing it did.
    pub teardown: Teardown,
}

/// Finds the remains of labs whose `up` was interrupted (namespaces `vx.LAB.*` without a
/// finished build, or a record without namespaces) and removes them. Labs that are up,
/// labs another vxlab is working on (their lock is held), and anything not named like a
/// vxlab lab, are left alone.
pub async fn gc<K: Kernel>(kernel: &mut K) -> Result<Vec<Collected>, UpError> {
    let mut out = Vec::new();
    for lab in labs_up() {
        // A finished lab is left alone without taking (and so making) its lock.
        if is_complete(&lab) && !namespaces_of(&lab).is_empty() {
            continue;
        }
        // Holding its lock, no `up` of it is half way: unfinished now, it is an orphan.
        let Some(lock) = lock_lab(&lab, false)? else {
            continue;
        };
        let has_ns = !namespaces_of(&lab).is_empty();
        let reason = match (has_ns, state::has_lab_dir(&lab), is_complete(&lab)) {
            (true, _, true) | (false, false, _) => {
                lock.release_removed();
                continue;
            }
            (true, false, _) => "namespaces without a record",
            (true, true, false) => "an `up` that did not finish",
            (false, true, _) => "a record without namespaces",
        };
        let teardown = remove(&lab, kernel).await;
        lock.release_removed();
        out.push(Collected {
            lab,
            reason: reason.into(),
            teardown,
        });
    }
    Ok(out)
}

/// Removes lab `name` from the machine, whatever state it is in. Idempotent.
pub async fn down<K: Kernel>(name: &LabName, kernel: &mut K) -> Result<Teardown, UpError> {
    let lock = lock(name)?;
    let t = remove(name, kernel).await;
    lock.release_removed();
    Ok(t)
}

/// Removes lab `name`; the caller holds the lock. A symlink or another user's directory in
/// place of its record is left alone, and said.
async fn remove<K: Kernel>(name: &LabName, kernel: &mut K) -> Teardown {
    let mut t = kernel.teardown(name).await;
    let dir = state_dir(name);
    match state::existing_lab_dir(name) {
        Ok(None) => {}
        Ok(Some(_)) => {
            if let Err(e) = fs::remove_dir_all(&dir) {
                t.errors.push(format!("remove {}: {e}", dir.display()));
            }
        }
        Err(e) => t.errors.push(e.to_string()),
    }
    t
}

/// The scenario text recorded when lab `name` was brought up.
pub fn recorded_source(name: &LabName) -> io::Result<String> {
    if state::existing_lab_dir(name)?.is_none() {
        return Err(io::ErrorKind::NotFound.into());
    }
    state::read_file(&state_dir(name).join("scenario.toml"))
}
