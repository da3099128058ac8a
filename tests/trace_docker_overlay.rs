//! `vxlab trace` on docker-overlay (seed 000): the ping from container A to container B
//! crosses the overlay hop by hop, and with B's FDB entry gone it ends at A's vxlan0.

mod common;

use std::process::Command;

use common::TestLab;
use serde_json::Value;

fn trace(lab: &TestLab, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args([
            "trace",
            &lab.lab.name,
            "--from",
            "hostA/container",
            "--json",
        ])
        .args(extra)
        .output()
        .expect("run vxlab trace");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn hops(j: &Value) -> Vec<String> {
    j["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}:{} {}",
                h["node"].as_str().unwrap(),
                h["iface"].as_str().unwrap(),
                h["dir"].as_str().unwrap()
            )
        })
        .collect()
}

/// The request's hops from container A to container B.
const ACROSS: [&str; 10] = [
    "hostA/container:veth105 out",
    "hostA/sandbox_2:veth104 in",
    "hostA/sandbox_2:vxlan0 out",
    "hostA:eth0 out",
    "underlay:hostA in",
    "underlay:hostB out",
    "hostB:eth0 in",
    "hostB/sandbox_2:vxlan0 in",
    "hostB/sandbox_2:veth104 out",
    "hostB/container:veth105 in",
];

#[test]
fn ping_journey_crosses_the_overlay_and_back() {
    require_root!();
    let lab = TestLab::up_file("docker-overlay.toml");
    let v = trace(&lab, &["--ping", "10.0.0.14"]);
    assert_eq!(v["drops"], 0);
    let journeys = v["journeys"].as_array().unwrap();
    let request = journeys
        .iter()
        .find(|j| j["summary"].as_str().unwrap().contains("echo request"))
        .expect("request");
    let reply = journeys
        .iter()
        .find(|j| j["summary"].as_str().unwrap().contains("echo reply"))
        .expect("reply");
    assert_eq!(hops(request), ACROSS);
    let encap = &request["hops"][3];
    assert_eq!(encap["encap"]["vni"], 100);
    assert_eq!(encap["encap"]["outer_dst"], "192.168.228.149");
    assert!(
        encap["changes"][0]
            .as_str()
            .unwrap()
            .starts_with("encapsulated VNI 100")
    );
    assert!(
        request["hops"][7]["changes"][0]
            .as_str()
            .unwrap()
            .starts_with("decapsulated VNI 100")
    );
    assert_eq!(request["delivered"], true);
    assert_eq!(reply["delivered"], true);
    assert_eq!(
        hops(reply).first().map(String::as_str),
        Some("hostB/container:veth105 out")
    );
    assert_eq!(
        hops(reply).last().map(String::as_str),
        Some("hostA/container:veth105 in")
    );
}

/// A packet longer than the capture's snap length is cut at a different point of its
/// payload once 50 bytes of VXLAN headers are in front: its hops must still be one journey.
#[test]
fn a_big_ping_is_followed_across_the_overlay() {
    require_root!();
    let lab = TestLab::up_file("docker-overlay.toml");
    let v = trace(&lab, &["--ping", "10.0.0.14", "--size", "1400", "--df"]);
    let request = v["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["summary"].as_str().unwrap().contains("echo request"))
        .expect("request");
    assert_eq!(hops(request), ACROSS);
    assert_eq!(request["delivered"], true);
}

#[test]
fn without_the_fdb_entry_the_journey_ends_at_vxlan0() {
    require_root!();
    let lab = TestLab::up_file("docker-overlay.toml");
    let mac = lab.ok(
        "hostB/container",
        &["cat", "/sys/class/net/veth105/address"],
    );
    lab.ok(
        "hostA/sandbox_2",
        &[
            "bridge",
            "fdb",
            "del",
            mac.trim(),
            "dev",
            "vxlan0",
            "dst",
            "192.168.228.149",
        ],
    );
    let v = trace(&lab, &["--ping", "10.0.0.14"]);
    let journeys = v["journeys"].as_array().unwrap();
    assert_eq!(journeys.len(), 1, "only the request, no reply");
    let j = &journeys[0];
    assert_eq!(j["delivered"], false);
    assert_eq!(j["last_seen"], "hostA/sandbox_2:vxlan0 out");
    assert!(j["verdict"].as_str().unwrap().contains("not seen after"));
}

#[test]
fn tcp_journeys_reach_the_remote_http_server() {
    require_root!();
    let lab = TestLab::up_file("docker-overlay.toml");
    let v = trace(&lab, &["--tcp", "10.0.0.14:80"]);
    assert!(v["probe_error"].is_null(), "{}", v["probe_error"]);
    let journeys = v["journeys"].as_array().unwrap();
    let syn = journeys
        .iter()
        .find(|j| j["summary"].as_str().unwrap().contains("[S]"))
        .expect("SYN journey");
    assert_eq!(syn["delivered"], true);
    assert!(
        journeys.len() >= 5,
        "handshake, request, answer and close: {}",
        journeys.len()
    );
    assert!(journeys.iter().all(|j| j["delivered"] == true));
}

#[test]
fn pcapng_opens_in_tshark_and_reads_back() {
    require_root!();
    let lab = TestLab::up_file("docker-overlay.toml");
    let file = std::env::temp_dir().join(format!("{}.pcapng", lab.lab.name));
    let path = file.to_str().unwrap();
    let v = trace(&lab, &["--ping", "10.0.0.14", "--pcapng", path]);
    let frames = v["frames"].as_u64().unwrap();
    let tshark = Command::new("tshark")
        .args([
            "-r",
            path,
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.comment",
        ])
        .output();
    match tshark {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                text.lines().count() as u64,
                frames,
                "tshark sees every frame"
            );
            assert!(
                text.contains(
                    "hostA:eth0\tjourney 1 hop 4/10 hostA:eth0 out: encapsulated VNI 100"
                ),
                "{text}"
            );
        }
        _ => eprintln!("skipped the tshark check: tshark not available"),
    }
    let read = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(["read", "--json", path])
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let back: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(back["packets"].as_array().unwrap().len() as u64, frames);
    let request = back["journeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["summary"].as_str().unwrap().contains("echo request"))
        .expect("the request's journey, rebuilt from the file");
    assert_eq!(request["hops"].as_array().unwrap().len(), 10);
    let _ = std::fs::remove_file(&file);
}

/// Field by field, vxlab's decoder and tshark agree on a real capture of the lab: inner
/// addresses, TTL, IP id, VNI and ICMP sequence of every IPv4 frame.
#[test]
fn decoder_agrees_with_tshark_on_a_real_capture() {
    require_root!();
    if Command::new("tshark").arg("--version").output().is_err() {
        common::skip(format_args!("tshark not found"));
        return;
    }
    let lab = TestLab::up_file("docker-overlay.toml");
    let file = std::env::temp_dir().join(format!("{}-fields.pcapng", lab.lab.name));
    let path = file.to_str().unwrap();
    trace(&lab, &["--tcp", "10.0.0.14:80", "--pcapng", path]);
    let fields = [
        "ip.src",
        "ip.dst",
        "ip.ttl",
        "ip.id",
        "vxlan.vni",
        "icmp.seq",
        "tcp.srcport",
        "tcp.seq_raw",
    ];
    let mut args = vec![
        "-r",
        path,
        "-T",
        "fields",
        "-E",
        "occurrence=l",
        "-E",
        "separator=|",
    ];
    for f in fields {
        args.extend(["-e", f]);
    }
    let out = Command::new("tshark").args(&args).output().unwrap();
    let tshark = String::from_utf8_lossy(&out.stdout);
    let cap = vxlab::pcapfile::read_file(&file).unwrap();
    let opts = vxlab::decode::DecodeOptions::default();
    let mut compared = 0;
    for (line, rec) in tshark.lines().zip(&cap.records) {
        let p = vxlab::decode::decode(&rec.data, &opts);
        let Some(vxlab::decode::IpRef::V4(inner)) = p.ip() else {
            continue;
        };
        let ours = [
            inner.src.to_string(),
            inner.dst.to_string(),
            inner.ttl.to_string(),
            format!("0x{:04x}", inner.id),
            p.vxlan().map(|v| v.vni.to_string()).unwrap_or_default(),
            p.icmp()
                .and_then(|i| i.seq)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            p.tcp().map(|t| t.src_port.to_string()).unwrap_or_default(),
            p.tcp().map(|t| t.seq.to_string()).unwrap_or_default(),
        ];
        let theirs: Vec<&str> = line.split('|').collect();
        assert_eq!(theirs.len(), ours.len(), "{line}");
        for ((f, a), b) in fields.iter().zip(&ours).zip(&theirs) {
            assert_eq!(a, b, "{f} differs in `{}`", p.summary());
        }
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} IPv4 frames compared");
    println!("decoder and tshark agree on {compared} frames of a real docker-overlay capture");
    let _ = std::fs::remove_file(&file);
}
