//! labs/ovs-vxlan.toml (seed 004, Open vSwitch part) on the real kernel and a real Open
//! vSwitch (userspace datapath): containers attached to br1 on two hosts reach each other
//! through the vxlan1 port, same subnet and across subnets, ICMP and TCP; the traffic
//! crosses the underlay VXLAN-encapsulated with the VNI the flows set; `down` leaves no
//! OVS daemon and nothing in the root namespace. Skips (saying why) without root or
//! without Open vSwitch.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestLab, root_snapshot};

/// Returns from the test, saying why, unless Open vSwitch's programs are installed.
macro_rules! require_ovs {
    () => {
        let found = |p: &str| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if ![
            "ovs-vswitchd",
            "ovsdb-server",
            "ovsdb-tool",
            "ovs-vsctl",
            "ovs-ofctl",
        ]
        .iter()
        .all(|p| found(p))
        {
            eprintln!(
                "skipped: Open vSwitch is not installed (Debian package openvswitch-switch; \
                 tests/install-deps installs it)"
            );
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

#[test]
fn containers_reach_each_other_over_the_ovs_vxlan_port() {
    require_root!();
    require_ovs!();
    let before = root_snapshot();
    let lab = TestLab::up_file("ovs-vxlan.toml");
    let state = vxlab::lifecycle::state_dir(&lab.lab.name);
    let state_text = state.to_string_lossy().into_owned();

    // Each host's `vxlab ovs-host` starts its daemons and configures br1, br-phy, vxlan1.
    for host in ["host1", "host2"] {
        let dir = state.join(format!("ovs-{host}"));
        let ready = wait_until(Duration::from_secs(30), || dir.join("ready").exists());
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

    // The OVS database holds the write-up's configuration.
    let db = format!("--db=unix:{state_text}/ovs-host1/db.sock");
    let show = lab.ok("host1", &["ovs-vsctl", &db, "show"]);
    for want in [
        "Bridge br1",
        "Port veth-c1",
        "Port vxlan1",
        "type: vxlan",
        "key=flow",
        "remote_ip=\"192.168.1.10\"",
        "datapath_type: netdev",
    ] {
        assert!(
            show.contains(want),
            "ovs-vsctl show lacks {want:?}:\n{show}"
        );
    }
    let flows = lab.ok(
        "host1",
        &[
            "ovs-ofctl",
            "dump-flows",
            &format!("unix:{state_text}/ovs-host1/br1.mgmt"),
        ],
    );
    assert!(
        ["load:0x64->NXM_NX_TUN_ID[]", "set_field:0x64->tun_id"]
            .iter()
            .any(|f| flows.contains(f)),
        "br1's flows do not set tun_id 100:\n{flows}"
    );

    // Same subnet, across the hosts, through vxlan1 (the first ping may wait for ARP).
    assert!(
        wait_until(Duration::from_secs(10), || lab
            .pings("host1/c1", "100.1.1.2")),
        "host1/c1 cannot ping host2/c1 (100.1.1.2): {}",
        read(&state.join("ovs-host1/ovs-vswitchd.log"))
    );
    assert!(lab.pings("host2/c1", "100.1.1.1"), "host2/c1 -> host1/c1");

    // The traffic crosses the underlay encapsulated: VXLAN, VNI 100, between the hosts'
    // underlay addresses (captured on host1's port of the underlay switch).
    let tcpdump = Command::new("ip")
        .args(["netns", "exec", &lab.netns("underlay")])
        .args([
            "timeout", "10", "tcpdump", "-nn", "-l", "-c", "4", "-i", "host1",
        ])
        // VXLAN whose inner frame is IPv4 (udp[28:2]) ICMP (udp[39]): not the containers'
        // IPv6 chatter.
        .args(["udp port 4789 and udp[28:2] = 0x0800 and udp[39] = 1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tcpdump");
    std::thread::sleep(Duration::from_millis(1500));
    lab.ok(
        "host1/c1",
        &["ping", "-c", "3", "-i", "0.3", "-W", "1", "100.1.1.2"],
    );
    let out = tcpdump.wait_with_output().expect("tcpdump");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        seen.contains("192.168.1.9.") && seen.contains("> 192.168.1.10.4789: VXLAN"),
        "no VXLAN from host1 to host2 on the underlay:\n{seen}"
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
        wait_until(Duration::from_secs(10), || lab
            .pings("host1/c1", "100.1.2.1")),
        "host1/c1 cannot ping host2/c2 (100.1.2.1)"
    );
    assert!(lab.pings("host2/c2", "100.1.1.1"), "host2/c2 -> host1/c1");

    // TCP through the userspace datapath (checksum offload is off on the containers).
    for (ip, who) in [("100.1.1.2", "host2/c1"), ("100.1.2.1", "host2/c2")] {
        let body = lab.ok(
            "host1/c1",
            &["curl", "-s", "-m", "5", &format!("http://{ip}/")],
        );
        assert_eq!(body.trim(), format!("{who} (client 100.1.1.1)"));
    }

    // The daemons run in the hosts' namespaces, from the lab's record directory.
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
        wait_until(Duration::from_secs(5), || processes_mentioning(&state_text)
            .is_empty()),
        "OVS processes of the lab left behind: {:#?}",
        processes_mentioning(&state_text)
    );
    assert!(!state.exists(), "the OVS directories went with the lab");
    assert_eq!(before, root_snapshot(), "the root namespace changed");
}
