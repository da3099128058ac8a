//! What users see when `[[nat]]`, `[kube_proxy]`, `[[service]]` or `[[ipvs]]` is wrong:
//! each error's message, its `--> file:line:column` and the caret under the offending
//! text. No root needed.

use vxlab::diag::render;
use vxlab::model::Lab;

/// A host with an underlay (eth0) and a container behind a veth; cases append to it.
const BASE: &str = r#"[lab]
name = "t"

[[host]]
name = "h"
underlay = "192.168.0.1/24"
[[namespace]]
name = "h/c"
[[veth]]
name = "h:v0"
peer = "h/c:eth0"
"#;

/// Line 12, where each case's text starts.
const FIRST: usize = 12;

fn errors(extra: &str) -> String {
    let source = format!("{BASE}{extra}");
    match Lab::from_source(&source) {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(d) => render("lab.toml", &source, &d),
    }
}

/// Asserts one error `message`, at line `FIRST + line` and `column`, underlining `text`.
fn assert_error(extra: &str, message: &str, line: usize, column: usize, text: &str) {
    let out = errors(extra);
    assert!(
        out.starts_with(&format!("error: {message}\n")),
        "want `{message}`, got:\n{out}"
    );
    let at = format!("--> lab.toml:{}:{column}\n", FIRST + line);
    assert!(out.contains(&at), "want {at}got:\n{out}");
    let caret = format!(
        "| {}{}\n",
        " ".repeat(column - 1),
        "^".repeat(text.chars().count())
    );
    assert!(
        out.contains(&caret),
        "want caret under `{text}`, got:\n{out}"
    );
    assert_eq!(out.matches("error:").count(), 1, "one error only:\n{out}");
}

const DNAT: &str = "[[nat]]\nnode = \"h\"\ntype = \"dnat\"\n";

#[test]
fn bad_cidr() {
    assert_error(
        &format!("{DNAT}to = \"10.0.0.1\"\ndst = \"10.0.0.0/33\"\n"),
        "`10.0.0.0/33` is not an address or prefix",
        4,
        7,
        "\"10.0.0.0/33\"",
    );
}

#[test]
fn host_bits_in_a_negated_prefix() {
    let out = errors(&format!(
        "{DNAT}to = \"10.0.0.1\"\nsrc = \"!10.0.0.1/24\"\n"
    ));
    assert!(
        out.contains("error: `10.0.0.1/24` has host bits set"),
        "{out}"
    );
    assert!(out.contains("= help: write 10.0.0.0/24"), "{out}");
}

#[test]
fn port_out_of_range() {
    assert_error(
        &format!("{DNAT}to = \"10.0.0.1\"\nproto = \"tcp\"\ndport = 70000\n"),
        "port 70000 is outside 1..=65535",
        5,
        9,
        "70000",
    );
}

#[test]
fn dport_without_a_protocol() {
    assert_error(
        &format!("{DNAT}to = \"10.0.0.1\"\ndport = 80\n"),
        "`dport` needs a protocol with ports",
        4,
        9,
        "80",
    );
}

#[test]
fn unknown_interface() {
    let out = errors(&format!("{DNAT}to = \"10.0.0.1\"\nin = \"eth9\"\n"));
    assert!(
        out.starts_with("error: there is no interface `eth9` in `h`\n"),
        "{out}"
    );
    assert!(
        out.contains("= help: its interfaces: lo, eth0, v0"),
        "{out}"
    );
}

#[test]
fn output_interface_before_routing() {
    assert_error(
        &format!("{DNAT}to = \"10.0.0.1\"\nout = \"eth0\"\n"),
        "packets in prerouting have no output interface yet",
        4,
        7,
        "\"eth0\"",
    );
}

#[test]
fn dnat_without_to() {
    let out = errors(DNAT);
    assert!(
        out.starts_with("error: a dnat rule needs `to`, the new destination\n"),
        "{out}"
    );
    assert!(out.contains("--> lab.toml:14:8"), "{out}");
}

#[test]
fn snat_without_to() {
    assert_error(
        "[[nat]]\nnode = \"h\"\ntype = \"snat\"\n",
        "a snat rule needs `to`, the new source",
        2,
        8,
        "\"snat\"",
    );
}

#[test]
fn masquerade_with_to() {
    assert_error(
        "[[nat]]\nnode = \"h\"\ntype = \"masquerade\"\nto = \"1.2.3.4\"\n",
        "masquerade takes the output interface's address; it has no `to`",
        3,
        6,
        "\"1.2.3.4\"",
    );
}

#[test]
fn unknown_type_and_hook() {
    assert_error(
        "[[nat]]\nnode = \"h\"\ntype = \"redirect\"\n",
        "`redirect` is not a NAT type",
        2,
        8,
        "\"redirect\"",
    );
    assert_error(
        &format!("{DNAT}to = \"10.0.0.1\"\nhook = \"postrouting\"\n"),
        "dnat cannot be done in postrouting",
        4,
        8,
        "\"postrouting\"",
    );
}

#[test]
fn ipvs_match_without_an_ipvs_service() {
    assert_error(
        "[[nat]]\nnode = \"h/c\"\ntype = \"snat\"\nto = \"10.0.0.2\"\nipvs = true\n",
        "`h/c` has no [[ipvs]] service, so `ipvs = true` never matches",
        4,
        8,
        "true",
    );
}

#[test]
fn unknown_node() {
    let out = errors("[[nat]]\nnode = \"hostZ\"\ntype = \"masquerade\"\n");
    assert!(
        out.starts_with("error: there is no node `hostZ`\n"),
        "{out}"
    );
}

#[test]
fn services_need_kube_proxy() {
    assert_error(
        "[[service]]\nname = \"default/web\"\ncluster_ip = \"10.96.0.10\"\nport = 80\nendpoints = [\"10.244.1.2:80\"]\n",
        "services need kube-proxy, and no [kube_proxy] says which nodes run it",
        1,
        8,
        "\"default/web\"",
    );
}

#[test]
fn bad_endpoint_and_cluster_ip() {
    let kp = "[kube_proxy]\nnodes = [\"h\"]\n";
    assert_error(
        &format!(
            "{kp}[[service]]\nname = \"default/web\"\ncluster_ip = \"10.96.0.10\"\nport = 80\nendpoints = [\"10.244.1.2\"]\n"
        ),
        "`10.244.1.2` is not an endpoint",
        6,
        14,
        "\"10.244.1.2\"",
    );
    assert_error(
        &format!(
            "{kp}[[service]]\nname = \"default/web\"\ncluster_ip = \"10.96.0\"\nport = 80\nendpoints = [\"10.244.1.2:80\"]\n"
        ),
        "`10.96.0` is not an IP address",
        4,
        14,
        "\"10.96.0\"",
    );
    assert_error(
        &format!(
            "{kp}[[service]]\nname = \"web\"\ncluster_ip = \"10.96.0.10\"\nport = 80\nendpoints = [\"10.244.1.2:80\"]\n"
        ),
        "`web` is not a valid service name: write it NAMESPACE/NAME, e.g. default/web",
        3,
        8,
        "\"web\"",
    );
}

#[test]
fn ipvs_mistakes() {
    let svc = "[[ipvs]]\nnode = \"h/c\"\n";
    assert_error(
        &format!("{svc}service = \"172.18.0.2:80\"\nscheduler = \"roundrobin\"\n"),
        "`roundrobin` is not an IPVS scheduler",
        3,
        13,
        "\"roundrobin\"",
    );
    assert_error(
        &format!("{svc}service = \"172.18.0.2\"\n"),
        "an IPVS service needs a port",
        2,
        11,
        "\"172.18.0.2\"",
    );
    assert_error(
        &format!(
            "{svc}service = \"172.18.0.2:80\"\nreal = [{{ address = \"10.0.0.4\", forward = \"nat44\" }}]\n"
        ),
        "`nat44` is not an IPVS forwarding method",
        3,
        43,
        "\"nat44\"",
    );
    assert_error(
        &format!(
            "{svc}service = \"172.18.0.2:80\"\nreal = [{{ address = \"10.0.0.4:8080\", forward = \"droute\" }}]\n"
        ),
        "droute forwarding cannot change the port (80 to 8080)",
        3,
        21,
        "\"10.0.0.4:8080\"",
    );
}

#[test]
fn every_problem_is_reported() {
    let out = errors(&format!(
        "{DNAT}dst = \"10.0.0.0/33\"\nproto = \"gre\"\n[[ipvs]]\nnode = \"h\"\nservice = \"x\"\n"
    ));
    for m in [
        "a dnat rule needs `to`",
        "`10.0.0.0/33` is not an address or prefix",
        "`gre` is not a protocol here",
        "`x` is not an IPv4 address and port",
    ] {
        assert!(out.contains(m), "missing {m}:\n{out}");
    }
}
