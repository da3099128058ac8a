//! labs/ovs-vxlan.toml (seed 004, Open vSwitch part) on the real kernel and a real Open
//! vSwitch, on both datapaths: containers attached to br1 on two hosts reach each other
//! through the vxlan1 port, same subnet and across subnets, ICMP and TCP; the traffic
//! crosses the underlay VXLAN-encapsulated with the VNI the flows set; `up` and `status`
//! say which datapath runs; `down` leaves no OVS daemon and nothing in the root namespace.
//!
//! `userspace_*` runs OVS's userspace datapath wherever Open vSwitch is installed.
//! `kernel_*` needs the kernel's datapath (module openvswitch): outside the VM it skips,
//! saying why, when the module is missing; inside it (`VXLAB_IN_VM=1`,
//! `tests/vm/guest-tests`, which loads the module) it fails instead. There the kernel is
//! also the oracle of the teardown: the module's reference count, held by every datapath
//! and port in any namespace, returns to what it was.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestLab, root_snapshot, unique_name};
use serde_json::Value;
use vxlab::model::{Lab, OvsDatapath};

/// Returns from the test, saying why, unless Open vSwitch's programs are installed.
macro_rules! require_ovs {
    () => {
        if let Some(p) = vxlab::ovs::missing_program() {
            common::skip(format_args!(
                "Open vSwitch is not installed ({p} is missing; Debian package \
                 openvswitch-switch, which tests/install-deps installs)"
            ));
            return;
        }
    };
}

/// Returns from the test unless the kernel has the Open vSwitch datapath; in the VM, a
/// missing datapath fails.
macro_rules! require_ovs_kernel {
    () => {
        if !vxlab::ovs::kernel_has_datapath() {
            assert!(
                std::env::var("VXLAB_IN_VM").as_deref() != Ok("1"),
                "inside the VM the kernel must have the Open vSwitch datapath \
                 (tests/vm/guest-tests loads module openvswitch)"
            );
            common::skip(format_args!(
                "this kernel has no Open vSwitch datapath ({} is missing: module \
                 openvswitch); run tests/vm/guest-tests",
                vxlab::ovs::MODULE_DIR
            ));
            return;
        }
    };
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; whether it held.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of live processes whose command line mentions `needle` (zombies have none).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        e.file_name().to_str()?.parse::<u32>().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        cmd.contains(needle).then_some(cmd)
    })
    .collect()
}

/// A file's text, or a note that it cannot be read (for failure messages).
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}

/// References to module openvswitch: one per datapath and port, in every namespace.
fn ovs_module_refs() -> String {
    read(&Path::new(vxlab::ovs::MODULE_DIR).join("refcnt"))
        .trim()
        .to_string()
}

/// `vxlab up --name NAME [ARGS] labs/ovs-vxlan.toml`: the lab, removed when dropped, and
/// what `up` printed.
fn up(args: &[&str]) -> (TestLab, String) {
    let path = format!("{}/labs/ovs-vxlan.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let name = unique_name("ovs");
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(["up", "--name", &name])
        .args(args)
        .arg(&path)
        .output()
        .expect("run vxlab up");
    let lab = TestLab {
        lab: Lab::from_source(&text).unwrap().renamed(&name),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "vxlab up: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (lab, stdout)
}

/// Waits for each host's `vxlab ovs-host` to start its daemons and configure br1.
fn wait_ready(lab: &TestLab) {
    let state = vxlab::lifecycle::state_dir(&lab.lab.name);
    for host in ["host1", "host2"] {
        let dir = state.join(format!("ovs-{host}"));
        let ready = wait_until(Duration::from_secs(90), || dir.join("ready").exists());
        let logs: String = std::fs::read_dir(&state)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .contains(&format!(".{host}.vxlab."))
            })
            .map(|e| read(&e.path()))
            .collect();
        assert!(
            ready,
            "{host}'s Open vSwitch never became ready: {logs}\n{}",
            read(&dir.join("ovs-vswitchd.log"))
        );
    }
}

/// The OVS database holds the write-up's configuration, on `datapath`, and br1's flows
/// set `tun_id` 100.
fn assert_configured(lab: &TestLab, datapath: OvsDatapath) {
    let state = vxlab::lifecycle::state_dir(&lab.lab.name);
    let state = state.to_string_lossy();
    let db = format!("--db=unix:{state}/ovs-host1/db.sock");
    let show = lab.ok("host1", &["ovs-vsctl", &db, "show"]);
    for want in [
        "Bridge br1",
        "Port veth-c1",
        "Port vxlan1",
        "type: vxlan",
        "key=flow",
        "remote_ip=\"192.168.1.10\"",
        &format!("datapath_type: {datapath}"),
    ] {
        assert!(
            show.contains(want),
            "ovs-vsctl show lacks {want:?}:\n{show}"
        );
    }
    assert_eq!(
        show.contains("Bridge br-phy"),
        datapath == OvsDatapath::Netdev,
        "the underlay bridge br-phy is the userspace datapath's alone:\n{show}"
    );
    let flows = lab.ok(
        "host1",
        &[
            "ovs-ofctl",
            "dump-flows",
            &format!("unix:{state}/ovs-host1/br1.mgmt"),
        ],
    );
    assert!(
        ["load:0x64->NXM_NX_TUN_ID[]", "set_field:0x64->tun_id"]
            .iter()
            .any(|f| flows.contains(f)),
        "br1's flows do not set tun_id 100:\n{flows}"
    );
}

/// Same subnet and cross subnet, ICMP and HTTP, encapsulated on the underlay with VNI 100.
fn assert_traffic(lab: &TestLab) {
    let state = vxlab::lifecycle::state_dir(&lab.lab.name);
    // Same subnet, across the hosts, through vxlan1 (the first ping may wait for ARP and
    // the first flow setup).
    assert!(
        wait_until(Duration::from_secs(20), || lab
            .pings("host1/c1", "100.1.1.2")),
        "host1/c1 cannot ping host2/c1 (100.1.1.2): {}",
        read(&state.join("ovs-host1/ovs-vswitchd.log"))
    );
    assert!(lab.pings("host2/c1", "100.1.1.1"), "host2/c1 -> host1/c1");

    // The traffic crosses the underlay encapsulated: VXLAN, VNI 100, between the hosts'
    // underlay addresses (captured on host1's port of the underlay switch).
    let mut tcpdump = Command::new("ip")
        .args(["netns", "exec", &lab.netns("underlay")])
        .args([
            "timeout", "60", "tcpdump", "-nn", "-l", "-c", "4", "-i", "host1",
        ])
        // VXLAN whose inner frame is IPv4 (udp[28:2]) ICMP (udp[39]): not the containers'
        // IPv6 chatter.
        .args(["udp port 4789 and udp[28:2] = 0x0800 and udp[39] = 1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tcpdump");
    // tcpdump says "listening on" once it captures: ping only then.
    let mut err = BufReader::new(tcpdump.stderr.take().expect("tcpdump's stderr"));
    let mut said = String::new();
    while err.read_line(&mut said).unwrap_or(0) > 0 && !said.contains("listening on") {}
    lab.ok(
        "host1/c1",
        &["ping", "-c", "3", "-i", "0.3", "-W", "1", "100.1.1.2"],
    );
    let out = tcpdump.wait_with_output().expect("tcpdump");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        seen.contains("192.168.1.9.") && seen.contains("> 192.168.1.10.4789: VXLAN"),
        "no VXLAN from host1 to host2 on the underlay:\n{seen}{said}"
    );
    assert!(seen.contains("vni 100"), "not VNI 100:\n{seen}");
    assert!(
        seen.contains("100.1.1.1 > 100.1.1.2: ICMP echo request"),
        "the container's ping is not inside:\n{seen}"
    );
    assert!(
        seen.contains("192.168.1.10.") && seen.contains("> 192.168.1.9.4789: VXLAN"),
        "no VXLAN back from host2:\n{seen}"
    );

    // Across subnets (on-link routes over the same L2 segment).
    assert!(
        wait_until(Duration::from_secs(20), || lab
            .pings("host1/c1", "100.1.2.1")),
        "host1/c1 cannot ping host2/c2 (100.1.2.1)"
    );
    assert!(lab.pings("host2/c2", "100.1.1.1"), "host2/c2 -> host1/c1");

    // TCP, both subnets.
    for (ip, who) in [("100.1.1.2", "host2/c1"), ("100.1.2.1", "host2/c2")] {
        let body = lab.ok(
            "host1/c1",
            &["curl", "-s", "-m", "10", &format!("http://{ip}/")],
        );
        assert_eq!(body.trim(), format!("{who} (client 100.1.1.1)"));
    }
}

/// `vxlab trace` follows a ping through Open vSwitch: switched (never "routed") into the
/// tunnel, encapsulated with VNI 100, decapsulated on host2, delivered, in path order.
fn assert_traced(lab: &TestLab) {
    let out = common::vxlab(&[
        "trace",
        &lab.lab.name,
        "--from",
        "host1/c1",
        "--ping",
        "100.1.1.2",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).expect("trace --json");
    let request = v["journeys"]
        .as_array()
        .expect("journeys")
        .iter()
        .find(|j| {
            j["summary"]
                .as_str()
                .is_some_and(|s| s.contains("echo request"))
        })
        .unwrap_or_else(|| panic!("no echo request journey: {v}"));
    assert_eq!(request["delivered"], true, "{}", request["verdict"]);
    let hops: Vec<&Value> = request["hops"].as_array().expect("hops").iter().collect();
    let at = |h: &Value| format!("{}:{} {}", h["node"], h["iface"], h["dir"]).replace('"', "");
    assert_eq!(at(hops[0]), "host1/c1:eth0 out");
    assert_eq!(at(hops[hops.len() - 1]), "host2/c1:eth0 in");
    let changes: Vec<&str> = hops
        .iter()
        .flat_map(|h| h["changes"].as_array().expect("changes"))
        .filter_map(Value::as_str)
        .collect();
    let encap = changes
        .iter()
        .position(|c| c.starts_with("encapsulated VNI 100"));
    let decap = changes
        .iter()
        .position(|c| c.starts_with("decapsulated VNI 100"));
    assert!(
        encap.is_some() && decap.is_some() && encap < decap,
        "{changes:#?}"
    );
    assert!(
        !changes.iter().any(|c| c.starts_with("routed by")),
        "OVS switches, nothing routes: {changes:#?}"
    );
}

/// `vxlab status --json` names the datapath.
fn assert_status(lab: &TestLab, datapath: OvsDatapath) {
    let out = common::vxlab(&["status", "--json", &lab.lab.name]);
    let v: Value = serde_json::from_str(&out).expect("status --json");
    assert_eq!(
        v["labs"][0]["ovs_datapath"],
        datapath.as_str(),
        "{out:.300}"
    );
}

/// One ovsdb-server and one ovs-vswitchd per host, from the lab's record directory; after
/// `down`, none, no record, and the root namespace as it was.
fn down_and_assert_clean(lab: TestLab, before: &str) {
    let state = vxlab::lifecycle::state_dir(&lab.lab.name);
    let state_text = state.to_string_lossy().into_owned();
    let daemons = processes_mentioning(&state_text);
    for d in ["ovsdb-server", "ovs-vswitchd"] {
        assert_eq!(
            daemons.iter().filter(|c| c.contains(d)).count(),
            2,
            "expected one {d} per host: {daemons:#?}"
        );
    }
    lab.down();
    assert!(
        wait_until(Duration::from_secs(10), || processes_mentioning(
            &state_text
        )
        .is_empty()),
        "OVS processes of the lab left behind: {:#?}",
        processes_mentioning(&state_text)
    );
    assert!(!state.exists(), "the OVS directories went with the lab");
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}

#[test]
fn userspace_datapath_joins_the_containers_over_vxlan1() {
    require_root!();
    require_ovs!();
    let before = root_snapshot();
    let (lab, said) = up(&["--ovs-datapath", "netdev"]);
    assert!(
        said.contains("Open vSwitch: userspace datapath (datapath_type=netdev;"),
        "{said}"
    );
    wait_ready(&lab);
    assert_configured(&lab, OvsDatapath::Netdev);
    // The userspace datapath's tunnels leave through br-phy, which took eth0's address.
    let br_phy = lab.ok(
        "host1",
        &["ip", "-o", "-4", "addr", "show", "dev", "br-phy"],
    );
    assert!(br_phy.contains("192.168.1.9/24"), "{br_phy}");
    assert_traffic(&lab);
    assert_traced(&lab);
    assert_status(&lab, OvsDatapath::Netdev);
    down_and_assert_clean(lab, &before);
}

#[test]
fn kernel_datapath_joins_the_containers_over_vxlan1() {
    require_root!();
    require_ovs!();
    require_ovs_kernel!();
    let before = root_snapshot();
    let refs = ovs_module_refs();
    // Without --ovs-datapath, `up` takes the kernel's datapath where it exists.
    let (lab, said) = up(&[]);
    assert!(
        said.contains("Open vSwitch: kernel datapath (datapath_type=system; module openvswitch)"),
        "{said}"
    );
    wait_ready(&lab);
    assert_configured(&lab, OvsDatapath::System);
    // The bridges live in the kernel: datapath ovs-system with the containers' veths, br1's
    // internal port and the kernel's VXLAN device for vxlan1; eth0 keeps its address.
    let dp = lab.ok("host1", &["ovs-dpctl", "show"]);
    for want in [
        "system@ovs-system:",
        ": veth-c1",
        ": br1 (internal)",
        ": vxlan_sys_4789",
    ] {
        assert!(dp.contains(want), "ovs-dpctl show lacks {want:?}:\n{dp}");
    }
    let vxlan = lab.ok(
        "host1",
        &["ip", "-d", "-o", "link", "show", "vxlan_sys_4789"],
    );
    assert!(
        vxlan.contains("vxlan external") && vxlan.contains("dstport 4789"),
        "{vxlan}"
    );
    let eth0 = lab.ok("host1", &["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(eth0.contains("192.168.1.9/24"), "{eth0}");
    assert_ne!(
        ovs_module_refs(),
        refs,
        "the datapaths hold module openvswitch"
    );
    assert_traffic(&lab);
    assert_traced(&lab);
    // The kernel encapsulated them: its flow table sends the containers' packets into the
    // tunnel with tun_id 100 towards host2.
    let flows = lab.ok("host1", &["ovs-dpctl", "dump-flows"]);
    assert!(
        flows
            .lines()
            .any(|f| f.contains("set(tunnel(tun_id=0x64") && f.contains("dst=192.168.1.10")),
        "no kernel flow into the tunnel with VNI 100:\n{flows}"
    );
    assert_status(&lab, OvsDatapath::System);
    down_and_assert_clean(lab, &before);
    // Every datapath and port is gone, in every namespace: the kernel frees them with the
    // namespaces, asynchronously.
    assert!(
        wait_until(Duration::from_secs(30), || ovs_module_refs() == refs),
        "module openvswitch still has {} references (before the lab: {refs}): a datapath or \
         port outlived the lab",
        ovs_module_refs()
    );
    let dps = Command::new("ovs-dpctl").arg("dump-dps").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&dps.stdout),
        "",
        "a datapath in the root namespace"
    );
}
