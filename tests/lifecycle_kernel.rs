//! All-or-nothing `up` with the kernel features this machine's kernel lacks: for every
//! step k of docker-overlay on the kernel's IPVS and of ovs-vxlan on the kernel's Open
//! vSwitch datapath, `up` made to fail at step k ([`FailAt`], the hook behind
//! `VXLAB_FAIL_AT_STEP`, which the last step goes through) leaves nothing:
//! no namespace, no record, no process in any namespace, the root namespace's links,
//! addresses, routes, nft ruleset and sysctls as they were, and, in every namespace, no
//! IPVS service, no `-m ipvs` rule, no OVS datapath or port. The kernel counts those last
//! ones: each holds a reference to its module (`ip_vs`, the scheduler's `ip_vs_rr`,
//! `xt_ipvs`, `openvswitch`), and the counts must come back to what they were.
//!
//! Needs IPVS and the OVS datapath: outside the VM it skips (saying why) without them;
//! inside it (`VXLAB_IN_VM=1`, `tests/vm/guest-tests`) it fails instead. Under TCG it
//! takes minutes (every step builds the steps before it, and each deleted namespace takes
//! the kernel about a second to free): it prints how long each lab took. The steps run
//! in process, since starting the debug `vxlab` binary costs seconds there.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{for_this_kernel, root_snapshot, unique_name};
use vxlab::kernel::FailAt;
use vxlab::lifecycle::{self, FAIL_AT_STEP_ENV, UpError};
use vxlab::model::{Lab, OvsDatapath};
use vxlab::plan::plan;

/// Modules whose reference count counts a lab's kernel objects in every namespace.
const MODULES: &[&str] = &["ip_vs", "ip_vs_rr", "xt_ipvs", "openvswitch"];

/// What must be as it was after each failed `up`.
#[derive(Debug, PartialEq, Eq)]
struct Machine {
    /// Reference count of each of [`MODULES`].
    refs: BTreeMap<&'static str, String>,
    /// Live processes outside this process's network namespace.
    elsewhere: BTreeSet<u32>,
}

impl Machine {
    fn now() -> Self {
        let refs = MODULES
            .iter()
            .map(|m| {
                let count = std::fs::read_to_string(format!("/sys/module/{m}/refcnt"))
                    .map_or_else(|e| format!("({e})"), |c| c.trim().to_string());
                (*m, count)
            })
            .collect();
        let mine = std::fs::read_link("/proc/self/ns/net").unwrap();
        let elsewhere = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                // Zombies have left their namespaces (and their links read as errors).
                std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns != mine)
            })
            .collect();
        Self { refs, elsewhere }
    }

    /// What differs from `before`, waiting up to `patience` for the kernel to finish
    /// freeing deleted namespaces (it does so asynchronously).
    fn leftovers(before: &Self, patience: Duration) -> Option<String> {
        let start = Instant::now();
        loop {
            let now = Self::now();
            let stray: Vec<String> = now
                .elsewhere
                .difference(&before.elsewhere)
                .map(|pid| {
                    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    format!(
                        "{pid}: {}",
                        String::from_utf8_lossy(&cmd).replace('\0', " ")
                    )
                })
                .collect();
            if now.refs == before.refs && stray.is_empty() {
                return None;
            }
            if start.elapsed() > patience {
                return Some(format!(
                    "module references {:?} (before: {:?}); processes in other namespaces: {stray:#?}",
                    now.refs, before.refs
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The root namespace's links, addresses, routes and forwarding sysctls, read in process
/// (over rtnetlink and /proc) so that it costs little to check after every step.
fn root_tables() -> String {
    let tables = common::runtime().block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection().expect("rtnetlink socket");
        tokio::spawn(conn);
        vxlab::observe::dump(&handle)
            .await
            .expect("dump the root namespace")
    });
    let sysctls: Vec<String> = ["ip_forward", "conf/all/forwarding", "conf/all/rp_filter"]
        .iter()
        .map(|k| std::fs::read_to_string(format!("/proc/sys/net/ipv4/{k}")).unwrap_or_default())
        .collect();
    format!(
        "{}\n{}\n{}\n{sysctls:?}",
        serde_json::to_string(&tables.links).unwrap(),
        serde_json::to_string(&tables.addresses).unwrap(),
        serde_json::to_string(&tables.routes).unwrap()
    )
}

/// Checks that lab `name`'s failed `up` at step `k` of `file` left nothing, compared with
/// `machine` and `root` from before.
fn assert_nothing_left(
    file: &str,
    k: usize,
    name: &vxlab::model::LabName,
    machine: &Machine,
    root: &str,
) {
    assert!(
        lifecycle::namespaces_of(name).is_empty(),
        "{file} step {k}: namespaces left: {:?}",
        lifecycle::namespaces_of(name)
    );
    assert!(
        !lifecycle::state_dir(name).exists(),
        "{file} step {k}: record left"
    );
    if let Some(left) = Machine::leftovers(machine, Duration::from_secs(60)) {
        panic!("{file} step {k}: left behind: {left}");
    }
    assert_eq!(
        root,
        root_tables(),
        "{file} step {k}: the root namespace changed"
    );
}

/// The oracle sees the lab: built completely, it raises the reference count of each of
/// `modules` (its OVS datapaths once `vxlab ovs-host` has made them), and they come back
/// once it is down.
fn assert_counted(file: &str, lab: &Lab, text: &str, modules: &[&str], machine: &Machine) {
    common::runtime()
        .block_on(lifecycle::up(
            lab,
            text,
            &mut common::kernel(),
            |_, _, _| {},
        ))
        .unwrap_or_else(|e| panic!("{file}: up failed: {e}"));
    let start = Instant::now();
    let raised = loop {
        let now = Machine::now();
        let raised: Vec<&str> = modules
            .iter()
            .copied()
            .filter(|m| now.refs[m] != machine.refs[m])
            .collect();
        if raised.len() == modules.len() || start.elapsed() > Duration::from_secs(90) {
            break raised;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let t = common::runtime()
        .block_on(lifecycle::down(&lab.name, &mut common::kernel()))
        .unwrap();
    assert!(t.errors.is_empty(), "{file}: down: {:?}", t.errors);
    assert_eq!(
        raised, modules,
        "{file}: the lab's objects hold these modules"
    );
    if let Some(left) = Machine::leftovers(machine, Duration::from_secs(60)) {
        panic!("{file}: down left behind: {left}");
    }
}

/// Fails `up` of `file` at every step k, checking after each that nothing is left: in
/// process through [`FailAt`] for every step but the last, and for the last through
/// `VXLAB_FAIL_AT_STEP=k vxlab up`, the same hook from the command line. First checks
/// that a complete build of the lab raises the reference counts of `modules`. Returns
/// the number of steps.
fn fail_at_every_step(file: &str, modules: &[&str], check: impl Fn(&Lab)) -> usize {
    let path = format!("{}/labs/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let lab = for_this_kernel(Lab::from_source(&text).unwrap());
    check(&lab);
    let ops = plan(&lab);
    let steps = ops.len();
    let name = unique_name("failk");
    let lab = lab.renamed(&name);
    let snapshot = root_snapshot();
    let root = root_tables();
    let machine = Machine::now();
    assert_counted(file, &lab, &text, modules, &machine);
    for k in 1..steps {
        let err = common::runtime()
            .block_on(lifecycle::up(
                &lab,
                &text,
                &mut FailAt::new(common::kernel(), k),
                |_, _, _| {},
            ))
            .expect_err("up with a failing step");
        match err {
            UpError::Step { step, rollback, .. } => {
                assert_eq!(step, k, "{file}");
                assert!(
                    rollback.errors.is_empty(),
                    "{file} step {k} ({}): {:?}",
                    ops[k - 1].command(),
                    rollback.errors
                );
            }
            e => panic!("{file} step {k}: unexpected {e}"),
        }
        assert_nothing_left(file, k, &name, &machine, &root);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .env(FAIL_AT_STEP_ENV, steps.to_string())
        .args(["up", "-q", "--name", &name, &path])
        .output()
        .expect("run vxlab up");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{file} step {steps}: up succeeded");
    assert!(
        err.contains(&format!("step {steps} of {steps} failed"))
            && err.contains("failure injected")
            && err.contains("everything the lab had created was removed")
            && !err.contains("except:"),
        "{file} step {steps}: {err}"
    );
    assert_nothing_left(file, steps, &name, &machine, &root);
    assert_eq!(
        snapshot,
        root_snapshot(),
        "{file}: the root namespace changed"
    );
    steps
}

#[test]
fn a_failure_at_any_step_leaves_no_ipvs_and_no_ovs_datapath() {
    require_ipvs!();
    if let Some(p) = vxlab::ovs::missing_program() {
        common::skip(format_args!(
            "Open vSwitch is not installed ({p} is missing)"
        ));
        return;
    }
    if !vxlab::ovs::kernel_has_datapath() {
        assert!(
            std::env::var("VXLAB_IN_VM").as_deref() != Ok("1"),
            "inside the VM the kernel must have the Open vSwitch datapath \
             (tests/vm/guest-tests loads module openvswitch)"
        );
        common::skip(format_args!(
            "this kernel has no Open vSwitch datapath (module openvswitch)"
        ));
        return;
    }
    for (file, modules, check) in [
        (
            "docker-overlay.toml",
            &["ip_vs", "ip_vs_rr", "xt_ipvs"][..],
            (|lab: &Lab| {
                assert!(
                    !lab.ipvs.is_empty() && !lab.ipvs_emulated(),
                    "the kernel's IPVS"
                );
            }) as fn(&Lab),
        ),
        ("ovs-vxlan.toml", &["openvswitch"], |lab: &Lab| {
            assert_eq!(
                lab.ovs_datapath,
                OvsDatapath::System,
                "the kernel's datapath"
            );
        }),
    ] {
        let start = Instant::now();
        let steps = fail_at_every_step(file, modules, check);
        println!(
            "{file}: a failure at each of its {steps} steps left nothing ({:.0?})",
            start.elapsed()
        );
    }
}
