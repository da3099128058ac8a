//! vxlab's conntrack reader (ctnetlink dump) against `conntrack -L`, the oracle, in a lab
//! namespace after some traffic: the same connections, tuples, states, timeouts, marks and
//! NAT flags.

mod common;

use common::TestLab;
use vxlab::conntrack::CtRow;

const LAB: &str = r#"
[lab]
name = "ctlab"

[[host]]
name = "gw"
underlay = "192.168.20.1/24"
[[host]]
name = "outside"
underlay = "192.168.20.2/24"
[[namespace]]
name = "gw/c"
[[veth]]
name = "gw:v0"
peer = "gw/c:eth0"
[[address]]
dev = "gw:v0"
address = "172.18.0.1/24"
[[address]]
dev = "gw/c:eth0"
address = "172.18.0.2/24"
[[route]]
node = "gw/c"
to = "default"
via = "172.18.0.1"
[[sysctl]]
node = "gw"
key = "net.ipv4.ip_forward"
value = 1
[[process]]
node = "gw/c"
http = 80
[[process]]
node = "outside"
http = 80
[[nat]]
node = "gw"
type = "dnat"
dst = "192.168.20.1"
proto = "tcp"
dport = 80
to = "172.18.0.2"
[[nat]]
node = "gw"
type = "masquerade"
src = "172.18.0.0/24"
out = "eth0"
"#;

/// One line of `conntrack -L`, as the fields vxlab reports.
#[derive(Debug, PartialEq)]
struct Line {
    proto: String,
    timeout: u32,
    state: Option<String>,
    original: Vec<String>,
    reply: Vec<String>,
    unreplied: bool,
    assured: bool,
    mark: u32,
}

fn parse(line: &str) -> Line {
    let w: Vec<&str> = line.split_whitespace().collect();
    let state = (!w[3].contains('=')).then(|| w[3].to_string());
    let (mut original, mut reply) = (Vec::new(), Vec::new());
    let mut srcs = 0;
    for x in &w[3..] {
        if x.starts_with("src=") {
            srcs += 1;
        }
        let keep = ["src=", "dst=", "sport=", "dport=", "type=", "code=", "id="]
            .iter()
            .any(|k| x.starts_with(k));
        if keep {
            if srcs == 1 { &mut original } else { &mut reply }.push((*x).to_string());
        }
    }
    Line {
        proto: w[0].to_string(),
        timeout: w[2].parse().unwrap(),
        state,
        original,
        reply,
        unreplied: line.contains("[UNREPLIED]"),
        assured: line.contains("[ASSURED]"),
        mark: w
            .iter()
            .find_map(|x| x.strip_prefix("mark="))
            .map_or(0, |m| m.parse().unwrap()),
    }
}

/// A row of vxlab's as the same fields.
fn line_of(r: &CtRow) -> Line {
    let t = |t: &vxlab::conntrack::Tuple| {
        let mut v = vec![format!("src={}", t.src), format!("dst={}", t.dst)];
        if let (Some(s), Some(d)) = (t.sport, t.dport) {
            v.extend([format!("sport={s}"), format!("dport={d}")]);
        }
        if let (Some(ty), Some(c)) = (t.icmp_type, t.icmp_code) {
            v.extend([format!("type={ty}"), format!("code={c}")]);
            v.push(format!("id={}", t.icmp_id.unwrap_or(0)));
        }
        v
    };
    Line {
        proto: r.proto.clone(),
        timeout: r.timeout.unwrap_or(0),
        state: r.state.clone(),
        original: t(&r.original),
        reply: t(&r.reply),
        unreplied: !r.status.contains(&"SEEN_REPLY"),
        assured: r.status.contains(&"ASSURED"),
        mark: r.mark,
    }
}

fn oracle(lab: &TestLab, extra: &[&str]) -> Vec<Line> {
    let mut args = vec!["conntrack", "-L", "-f", "ipv4"];
    args.extend_from_slice(extra);
    let out = lab.exec("gw", &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| matches!(l.split_whitespace().next(), Some("tcp" | "udp" | "icmp")))
        .map(parse)
        .collect()
}

fn key(l: &Line) -> (String, Vec<String>, Vec<String>) {
    (l.proto.clone(), l.original.clone(), l.reply.clone())
}

#[test]
fn rows_agree_with_conntrack_tool() {
    require_root!();
    if !vxlab::nat::apply::in_path("conntrack") {
        common::skip(format_args!(
            "`conntrack` is not installed (apt-get install conntrack)"
        ));
        return;
    }
    let lab = TestLab::up(LAB);
    // Traffic through both NAT rules, plus ICMP and an unanswered UDP datagram.
    for _ in 0..3 {
        lab.ok(
            "outside",
            &["curl", "-s", "-m", "2", "http://192.168.20.1/"],
        );
        lab.ok("gw/c", &["curl", "-s", "-m", "2", "http://192.168.20.2/"]);
    }
    assert!(lab.pings("gw/c", "192.168.20.2"));
    lab.exec("gw/c", &["bash", "-c", "echo x > /dev/udp/192.168.20.2/9"]);

    let ours: Vec<Line> = vxlab::conntrack::dump(&lab.netns("gw"))
        .unwrap()
        .iter()
        .filter(|r| r.family == "ipv4" && matches!(r.proto.as_str(), "tcp" | "udp" | "icmp"))
        .map(line_of)
        .collect();
    let theirs = oracle(&lab, &[]);
    assert!(theirs.len() >= 8, "{theirs:#?}");
    let mut ok = 0;
    for t in &theirs {
        let o = ours
            .iter()
            .find(|o| key(o) == key(t))
            .unwrap_or_else(|| panic!("vxlab misses {t:?}\nvxlab: {ours:#?}"));
        assert_eq!(
            (&o.state, o.unreplied, o.assured, o.mark),
            (&t.state, t.unreplied, t.assured, t.mark),
            "{t:?}"
        );
        assert!(
            o.timeout.abs_diff(t.timeout) <= 2,
            "timeouts {o:?} vs {t:?}"
        );
        ok += 1;
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "ours {ours:#?}\ntheirs {theirs:#?}"
    );
    // NAT flags: `conntrack -L --dst-nat` / `--src-nat` select the same TCP and UDP rows
    // (the tool infers NAT from the tuples, which for ICMP compares ids with types; vxlab
    // reports the kernel's IPS_SRC_NAT / IPS_DST_NAT bits).
    let rows = vxlab::conntrack::dump(&lab.netns("gw")).unwrap();
    for (flag, pick) in [("--dst-nat", true), ("--src-nat", false)] {
        let mut want: Vec<_> = oracle(&lab, &[flag])
            .iter()
            .filter(|l| l.proto != "icmp")
            .map(key)
            .collect();
        let mut got: Vec<_> = rows
            .iter()
            .filter(|r| if pick { r.dst_nat } else { r.src_nat })
            .filter(|r| matches!(r.proto.as_str(), "tcp" | "udp"))
            .map(|r| key(&line_of(r)))
            .collect();
        want.sort();
        got.sort();
        assert!(!want.is_empty(), "{flag}: no row");
        assert_eq!(got, want, "{flag}");
    }
    println!("{ok} connections agree with conntrack -L");
}

#[test]
fn a_namespace_without_conntrack_has_an_empty_table() {
    require_root!();
    let lab = TestLab::up("[lab]\nname = \"ctnone\"\n[[host]]\nname = \"h\"\n");
    assert!(lab.pings("h", "127.0.0.1"));
    assert_eq!(vxlab::conntrack::dump(&lab.netns("h")).unwrap(), vec![]);
}
