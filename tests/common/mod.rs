//! Shared helpers of the privileged integration tests: a lab under a unique name that is
//! always removed, root checks that skip with a printed reason, and snapshots of the root
//! namespace to prove a lab leaves it untouched.
#![allow(dead_code, clippy::missing_panics_doc)]

pub mod skip;
pub mod wire;

pub use skip::skip;

use std::fmt::Write as _;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use vxlab::kernel::Netlink;
use vxlab::lifecycle;
use vxlab::model::{Lab, LabName, netns_name};

/// Returns from the test, saying why, unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !nix::unistd::geteuid().is_root() {
            $crate::common::skip(format_args!("needs root to create network namespaces"));
            return;
        }
    };
}

/// Returns from the test unless the kernel has IPVS (and the test runs as root); in the
/// VM of `tests/vm/guest-tests`, a missing IPVS fails instead.
#[macro_export]
macro_rules! require_ipvs {
    () => {
        require_root!();
        if !vxlab::ipvs::kernel_has_ipvs() {
            assert!(
                std::env::var("VXLAB_IN_VM").as_deref() != Ok("1"),
                "inside the VM the kernel must have IPVS (tests/vm/guest-tests loads ip_vs)"
            );
            $crate::common::skip(format_args!(
                "this kernel has no IPVS (/proc/sys/net/ipv4/vs is missing); run tests/vm/guest-tests"
            ));
            return;
        }
    };
}

/// A unique lab name for this test process.
pub fn unique_name(tag: &str) -> LabName {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let tag: String = tag
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    LabName::new(&format!("t{}-{tag}{n}", std::process::id())).expect("a valid lab name")
}

/// A lab that is up; removed when dropped, even if the test panics.
pub struct TestLab {
    /// The lab, under its unique name.
    pub lab: Lab,
}

impl TestLab {
    /// Brings up `source` (scenario text) under a unique name.
    pub fn up(source: &str) -> Self {
        Self::try_up(source).unwrap_or_else(|e| panic!("up failed: {e}"))
    }

    /// Brings up `source`, returning `up`'s error.
    pub fn try_up(source: &str) -> Result<Self, lifecycle::UpError> {
        let lab = for_this_kernel(Lab::from_source(source).expect("scenario is valid"));
        Self::try_up_lab(lab, source)
    }

    /// Brings up `lab` (built from scenario text `source`, as it is) under a unique name,
    /// returning `up`'s error.
    pub fn try_up_lab(lab: Lab, source: &str) -> Result<Self, lifecycle::UpError> {
        let name = unique_name(&lab.name);
        let this = Self {
            lab: lab.renamed(&name),
        };
        runtime().block_on(lifecycle::up(
            &this.lab,
            source,
            &mut kernel(),
            |_, _, _| {},
        ))?;
        Ok(this)
    }

    /// Brings up built-in or file lab `name` from `labs/`.
    pub fn up_file(file: &str) -> Self {
        let path = format!("{}/labs/{file}", env!("CARGO_MANIFEST_DIR"));
        Self::up(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    /// Namespace name of node `node`.
    pub fn netns(&self, node: &str) -> String {
        netns_name(&self.lab.name, node)
    }

    /// Runs `argv` in node `node` (through `ip netns exec`, an independent oracle).
    pub fn exec(&self, node: &str, argv: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.netns(node)])
            .args(argv)
            .output()
            .expect("run ip netns exec")
    }

    /// Runs `argv` in `node`, asserting success; returns stdout.
    pub fn ok(&self, node: &str, argv: &[&str]) -> String {
        let out = self.exec(node, argv);
        assert!(
            out.status.success(),
            "{node}: `{}` failed: {}{}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Pings `ip` from `node` once (1 s timeout); whether it was answered.
    pub fn pings(&self, node: &str, ip: &str) -> bool {
        self.exec(node, &["ping", "-c", "1", "-W", "1", ip])
            .status
            .success()
    }

    /// Removes the lab now and checks that none of its namespaces is left.
    pub fn down(self) {
        let name = self.lab.name.clone();
        drop(self);
        assert!(
            lifecycle::namespaces_of(&name).is_empty(),
            "namespaces of {name} left behind"
        );
        assert!(
            !lifecycle::state_dir(&name).exists(),
            "record of {name} left behind"
        );
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        let t = runtime().block_on(lifecycle::down(&self.lab.name, &mut Netlink::new()));
        if let Ok(t) = t {
            assert!(
                t.errors.is_empty() || std::thread::panicking(),
                "teardown errors: {:?}",
                t.errors
            );
        }
    }
}

/// `lab` with its IPVS services emulated with nftables if this kernel has no IPVS (the
/// CI machines), as `vxlab up --emulate-ipvs` builds it; unchanged where IPVS exists (the
/// VM of `tests/vm/ipvs-tests`).
pub fn ipvs_fallback(lab: Lab) -> Lab {
    if lab.needs_kernel_ipvs() && !vxlab::ipvs::kernel_has_ipvs() {
        lab.emulate_ipvs()
    } else {
        lab
    }
}

/// `lab` as `vxlab up` builds it on this kernel by default: IPVS emulated where the kernel
/// has none ([`ipvs_fallback`]), Open vSwitch on the kernel's datapath where it exists,
/// else on the userspace one.
pub fn for_this_kernel(lab: Lab) -> Lab {
    let lab = ipvs_fallback(lab);
    if lab.uses_ovs() {
        lab.with_ovs_datapath(vxlab::ovs::preferred_datapath())
    } else {
        lab
    }
}

/// The real kernel backend, running built-in programs with the `vxlab` binary under test.
pub fn kernel() -> Netlink {
    let mut k = Netlink::new();
    k.exe = Some(env!("CARGO_BIN_EXE_vxlab").into());
    k
}

/// `vxlab ARGS` with the binary under test, asserting success; returns stdout.
pub fn vxlab(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(args)
        .output()
        .expect("run vxlab");
    assert!(
        out.status.success(),
        "vxlab {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A current-thread runtime for one call.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The root namespace's links, addresses, routes, nft ruleset and key sysctls, as text.
pub fn root_snapshot() -> String {
    let run = |args: &[&str]| {
        let o = Command::new(args[0]).args(&args[1..]).output();
        o.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let mut s = String::new();
    s += &run(&["ip", "-o", "link", "show"])
        .lines()
        .map(|l| {
            // Counters and link-netnsid of peers move; keep name, flags, mtu, master, state.
            l.split(" link/").next().unwrap_or(l).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n");
    s += &run(&["ip", "-o", "addr", "show"]);
    s += &run(&["ip", "route", "show", "table", "all"]);
    s += &run(&["nft", "list", "ruleset"]);
    for k in [
        "net/ipv4/ip_forward",
        "net/ipv4/conf/all/rp_filter",
        "net/ipv4/conf/all/forwarding",
    ] {
        let value = std::fs::read_to_string(format!("/proc/sys/{k}")).unwrap_or_default();
        let _ = write!(s, "{k}={value}");
    }
    s
}
