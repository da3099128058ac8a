//! vxlab's IPVS over generic netlink against `ipvsadm`, the oracle: services vxlab adds
//! are what `ipvsadm -Ln` lists, and services ipvsadm adds are what vxlab reads back.
//! Needs the kernel's IPVS: skips outside the VM without it, fails inside it.

mod common;

use common::TestLab;
use vxlab::model::{Forward, Lab, Proto};
use vxlab::plan::plan;
use vxlab::plan::script::up_script;

const LAB: &str = r#"
[lab]
name = "ipvsnl"

[[host]]
name = "lb"

[[ipvs]]
node = "lb"
service = "10.1.0.1:80"
scheduler = "rr"
real = [
    { address = "10.0.0.4", forward = "masq" },
    { address = "10.0.0.14:8080", forward = "masq", weight = 5 },
]

[[ipvs]]
node = "lb"
service = "10.1.0.2:53"
proto = "udp"
scheduler = "wrr"
real = [
    { address = "10.0.0.5", forward = "droute", weight = 3 },
    { address = "10.0.0.6", weight = 1 },
]

[[ipvs]]
node = "lb"
service = "10.1.0.3:443"
scheduler = "sh"
real = [{ address = "10.0.0.7", forward = "tunnel", weight = 0 }]
"#;

/// `ipvsadm -Ln` as (service line, sorted real-server lines), whitespace normalised.
fn ipvsadm(lab: &TestLab) -> Vec<(String, Vec<String>)> {
    let text = lab.ok("lb", &["ipvsadm", "-Ln"]);
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().skip(3) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("  ->") {
            // -> ADDR:PORT FORWARD WEIGHT ACTIVE INACTIVE
            out.last_mut()
                .unwrap()
                .1
                .push(format!("{} {} {}", words[1], words[2], words[3]));
        } else if !words.is_empty() {
            out.push((words[..3].join(" "), Vec::new()));
        }
    }
    for s in &mut out {
        s.1.sort();
    }
    out.sort();
    out
}

/// The same shape from the lab model.
fn expected(lab: &Lab) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = lab
        .ipvs
        .iter()
        .map(|s| {
            let mut reals: Vec<String> = s
                .reals
                .iter()
                .map(|r| {
                    let fwd = match r.forward {
                        Forward::Masq => "Masq",
                        Forward::Droute => "Route",
                        Forward::Tunnel => "Tunnel",
                    };
                    format!("{}:{} {fwd} {}", r.addr, r.port, r.weight)
                })
                .collect();
            reals.sort();
            let proto = match s.proto {
                Proto::Udp => "UDP",
                Proto::Sctp => "SCTP",
                _ => "TCP",
            };
            (
                format!("{proto} {}:{} {}", s.addr, s.port, s.scheduler),
                reals,
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn ipvsadm_lists_what_vxlab_programmed() {
    require_ipvs!();
    let lab = TestLab::up(LAB);
    assert_eq!(ipvsadm(&lab), expected(&lab.lab));
    // And vxlab reads its own services back the same.
    let rows = vxlab::ipvs::list(&lab.netns("lb")).unwrap();
    assert_eq!(rows.len(), 3);
    for s in &lab.lab.ipvs {
        let row = rows
            .iter()
            .find(|r| r.addr == s.addr && r.port == s.port && r.proto == s.proto)
            .unwrap_or_else(|| panic!("{s} not read back: {rows:#?}"));
        assert_eq!(row.scheduler, s.scheduler);
        assert!(!row.emulated);
        let mut got: Vec<_> = row
            .reals
            .iter()
            .map(|r| (r.addr, r.port, r.forward, r.weight))
            .collect();
        let mut want: Vec<_> = s
            .reals
            .iter()
            .map(|r| (r.addr, r.port, r.forward, r.weight))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
}

#[test]
fn vxlab_reads_what_ipvsadm_wrote() {
    require_ipvs!();
    let lab = TestLab::up("[lab]\nname = \"ipvsrd\"\n[[host]]\nname = \"lb\"\n");
    lab.ok("lb", &["ipvsadm", "-A", "-u", "10.9.9.9:53", "-s", "wlc"]);
    lab.ok(
        "lb",
        &[
            "ipvsadm",
            "-a",
            "-u",
            "10.9.9.9:53",
            "-r",
            "10.9.9.10:5353",
            "-m",
            "-w",
            "7",
        ],
    );
    lab.ok(
        "lb",
        &[
            "ipvsadm",
            "-a",
            "-u",
            "10.9.9.9:53",
            "-r",
            "10.9.9.11",
            "-g",
            "-w",
            "2",
        ],
    );
    let rows = vxlab::ipvs::list(&lab.netns("lb")).unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let s = &rows[0];
    assert_eq!(
        (s.proto, s.addr.to_string(), s.port, s.scheduler.as_str()),
        (Proto::Udp, "10.9.9.9".to_string(), 53, "wlc")
    );
    let mut reals: Vec<_> = s
        .reals
        .iter()
        .map(|r| (r.addr.to_string(), r.port, r.forward, r.weight))
        .collect();
    reals.sort();
    assert_eq!(
        reals,
        vec![
            ("10.9.9.10".to_string(), 5353, Forward::Masq, 7),
            ("10.9.9.11".to_string(), 53, Forward::Droute, 2),
        ]
    );
}

#[test]
fn a_refused_request_names_the_service_and_the_namespace() {
    require_ipvs!();
    let lab = TestLab::up(LAB);
    let v = vxlab::ipvs::Virtual {
        proto: Proto::Tcp,
        addr: "10.1.0.1".parse().unwrap(),
        port: 80,
    };
    let err = vxlab::ipvs::add_service(&lab.netns("lb"), v, "rr").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("add service tcp 10.1.0.1:80") && msg.contains(&lab.netns("lb")),
        "{msg}"
    );
}

#[test]
fn script_prints_ipvsadm_commands() {
    let lab = Lab::from_source(LAB).unwrap();
    let s = up_script(&lab, &plan(&lab));
    for line in [
        "ip netns exec vx.ipvsnl.lb ipvsadm -A -t 10.1.0.1:80 -s rr\n",
        "ip netns exec vx.ipvsnl.lb ipvsadm -a -t 10.1.0.1:80 -r 10.0.0.14:8080 -m -w 5\n",
        "ip netns exec vx.ipvsnl.lb ipvsadm -A -u 10.1.0.2:53 -s wrr\n",
        "ip netns exec vx.ipvsnl.lb ipvsadm -a -u 10.1.0.2:53 -r 10.0.0.6:53 -g -w 1\n",
        "ip netns exec vx.ipvsnl.lb ipvsadm -a -t 10.1.0.3:443 -r 10.0.0.7:443 -i -w 0\n",
    ] {
        assert!(s.contains(line), "missing {line}in:\n{s}");
    }
    // Emulated, the same services are nft DNAT maps, marked as such.
    let emulated = lab.emulate_ipvs();
    let s = up_script(&emulated, &plan(&emulated));
    assert!(
        !s.lines()
            .any(|l| l.starts_with("ip netns exec") && l.contains("ipvsadm")),
        "{s}"
    );
    assert!(s.contains("# EMULATED IPVS (no ip_vs in this kernel): tcp 10.1.0.1:80 rr"));
    assert!(s.contains("dnat to numgen inc mod 2 map { 0 : 10.0.0.4 . 80, 1 : 10.0.0.14 . 8080 }"));
    // wrr 3:1 repeats the first real server three times.
    assert!(s.contains("numgen inc mod 4 map { 0 : 10.0.0.5 . 53, 1 : 10.0.0.5 . 53, 2 : 10.0.0.5 . 53, 3 : 10.0.0.6 . 53 }"), "{s}");
    assert!(
        s.contains("# EMULATED IPVS: droute and tunnel forwarding are emulated as masq (DNAT)")
    );
    assert!(s.contains("has no real server with a weight above 0"));
}
