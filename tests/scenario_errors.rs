//! What users see when a scenario is wrong: the exact text of each validation error
//! (message, `--> file:line:column`, the line, the caret under the offending text, the
//! hint), held as a contract. Also: every shipped lab lints clean, and `vxlab lint` fails
//! with `file:line:column` on stderr. No root needed.

// Every expected text is written r#"…"#, whether or not it holds a quote.
#![allow(clippy::needless_raw_string_hashes)]

use std::path::Path;
use std::process::Command;

use vxlab::diag::render;
use vxlab::labs;
use vxlab::model::Lab;

/// Two hosts on one underlay; each case appends its broken part (from line 11 on).
const BASE: &str = r#"[lab]
name = "t"

[[host]]
name = "hostA"
underlay = "192.168.0.1/24"

[[host]]
name = "hostB"
underlay = "192.168.0.2/24"
"#;

/// The rendered errors of `BASE` followed by `extra`, as `vxlab lint lab.toml` prints them.
fn errors(extra: &str) -> String {
    let source = format!("{BASE}{extra}");
    match Lab::from_source(&source) {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(diags) => render("lab.toml", &source, &diags),
    }
}

#[test]
fn the_base_scenario_is_valid() {
    Lab::from_source(BASE).expect("BASE is valid");
}

#[test]
fn unknown_key() {
    assert_eq!(
        errors(
            r#"
[[host]]
name = "hostC"
undelay = "192.168.0.3/24"
"#
        ),
        r#"error: unknown field `undelay`, expected one of `name`, `underlay`, `lo`
  --> lab.toml:14:1
   |
14 | undelay = "192.168.0.3/24"
   | ^^^^^^^

"#
    );
}

#[test]
fn interface_name_of_16_bytes() {
    assert_eq!(
        errors(
            r#"
[[veth]]
name = "hostA:a_sixteen_bytes_"
peer = "hostB:eth1"
"#
        ),
        r#"error: `a_sixteen_bytes_` is not a valid interface name: it is 16 bytes long; the kernel allows at most 15
  --> lab.toml:13:8
   |
13 | name = "hostA:a_sixteen_bytes_"
   |        ^^^^^^^^^^^^^^^^^^^^^^^^

"#
    );
}

#[test]
fn bad_cidr() {
    assert_eq!(
        errors(
            r#"
[[bridge]]
name = "hostA:br0"

[[address]]
dev = "hostA:br0"
address = "10.0.0.300/24"
"#
        ),
        r#"error: `10.0.0.300/24` is not an address with a prefix length
  --> lab.toml:17:11
   |
17 | address = "10.0.0.300/24"
   |           ^^^^^^^^^^^^^^^
   = help: write e.g. 10.0.0.4/24

"#
    );
}

#[test]
fn bad_mac() {
    assert_eq!(
        errors(
            r#"
[[bridge]]
name = "hostA:br0"
mac = "02:42:ac:11:00"
"#
        ),
        r#"error: `02:42:ac:11:00` is not a MAC address (aa:bb:cc:dd:ee:ff)
  --> lab.toml:14:7
   |
14 | mac = "02:42:ac:11:00"
   |       ^^^^^^^^^^^^^^^^

"#
    );
}

#[test]
fn vni_0() {
    assert_eq!(
        errors(
            r#"
[[vxlan]]
name = "hostA:vxlan0"
vni = 0
"#
        ),
        r#"error: VNI 0 is outside 1..=16777215
  --> lab.toml:14:7
   |
14 | vni = 0
   |       ^
   = help: a VNI is 24 bits; 0 is reserved

"#
    );
}

#[test]
fn vni_2_to_the_24() {
    assert_eq!(
        errors(
            r#"
[[vxlan]]
name = "hostA:vxlan0"
vni = 16777216
"#
        ),
        r#"error: VNI 16777216 is outside 1..=16777215
  --> lab.toml:14:7
   |
14 | vni = 16777216
   |       ^^^^^^^^
   = help: a VNI is 24 bits; 0 is reserved

"#
    );
}

#[test]
fn vni_limits_are_accepted() {
    for vni in [1, 16_777_215] {
        let source = format!("{BASE}\n[[vxlan]]\nname = \"hostA:vxlan0\"\nvni = {vni}\n");
        Lab::from_source(&source).unwrap_or_else(|d| panic!("{}", render("x", &source, &d)));
    }
}

#[test]
fn dstport_70000() {
    assert_eq!(
        errors(
            r#"
[[vxlan]]
name = "hostA:vxlan0"
vni = 42
dstport = 70000
"#
        ),
        r#"error: port 70000 is outside 1..=65535
  --> lab.toml:15:11
   |
15 | dstport = 70000
   |           ^^^^^

"#
    );
}

#[test]
fn gateway_outside_every_connected_subnet() {
    assert_eq!(
        errors(
            r#"
[[route]]
node = "hostA"
to = "default"
via = "10.0.0.1"
"#
        ),
        r#"error: gateway 10.0.0.1 is outside every subnet connected to `hostA`
  --> lab.toml:15:7
   |
15 | via = "10.0.0.1"
   |       ^^^^^^^^^^
   = help: connected subnets: 192.168.0.0/24

"#
    );
}

#[test]
fn dangling_node_reference() {
    assert_eq!(
        errors(
            r#"
[[route]]
node = "hostC"
to = "default"
via = "192.168.0.254"
"#
        ),
        r#"error: there is no node `hostC`
  --> lab.toml:13:8
   |
13 | node = "hostC"
   |        ^^^^^^^
   = help: declared nodes: hostA, hostB, underlay

"#
    );
}

/// The node part of `NODE:IFNAME` should be underlined, inside the quotes.
#[test]
fn dangling_node_in_an_interface_reference() {
    assert_eq!(
        errors(
            r#"
[[bridge]]
name = "hostC:br0"
"#
        ),
        r#"error: there is no node `hostC`
  --> lab.toml:13:9
   |
13 | name = "hostC:br0"
   |         ^^^^^
   = help: declared nodes: hostA, hostB, underlay

"#
    );
}

#[test]
fn duplicate_interface() {
    assert_eq!(
        errors(
            r#"
[[bridge]]
name = "hostA:br0"

[[vxlan]]
name = "hostA:br0"
vni = 42
"#
        ),
        r#"error: interface `br0` already exists in `hostA`
  --> lab.toml:16:8
   |
16 | name = "hostA:br0"
   |        ^^^^^^^^^^^

"#
    );
}

#[test]
fn underlay_interface_is_taken() {
    assert_eq!(
        errors(
            r#"
[[bridge]]
name = "hostA:eth0"
"#
        ),
        r#"error: interface `eth0` already exists in `hostA`
  --> lab.toml:13:8
   |
13 | name = "hostA:eth0"
   |        ^^^^^^^^^^^^

"#
    );
}

#[test]
fn mac_reference_to_a_missing_interface() {
    assert_eq!(
        errors(
            r#"
[[bridge]]
name = "hostA:br0"

[[neigh]]
dev = "hostA:br0"
to = "10.0.0.14"
lladdr = "@hostB:veth105"
"#
        ),
        r#"error: there is no interface `veth105` in `hostB`
  --> lab.toml:18:12
   |
18 | lladdr = "@hostB:veth105"
   |            ^^^^^^^^^^^^^

"#
    );
}

#[test]
fn fdb_dst_on_a_bridge() {
    assert_eq!(
        errors(
            r#"
[[bridge]]
name = "hostA:br0"

[[fdb]]
dev = "hostA:br0"
mac = "02:42:0a:00:00:0e"
dst = "192.168.0.2"
"#
        ),
        r#"error: `dst` needs a VXLAN device; `br0` is not one
  --> lab.toml:18:7
   |
18 | dst = "192.168.0.2"
   |       ^^^^^^^^^^^^^

"#
    );
}

#[test]
fn sysctl_outside_net() {
    assert_eq!(
        errors(
            r#"
[[sysctl]]
node = "hostA"
key = "kernel.panic"
value = 1
"#
        ),
        r#"error: `kernel.panic` is not a per-namespace sysctl
  --> lab.toml:14:7
   |
14 | key = "kernel.panic"
   |       ^^^^^^^^^^^^^^
   = help: only net.* keys are allowed: they belong to the lab's namespace, not to the host

"#
    );
}

#[test]
fn every_problem_is_reported_in_file_order() {
    assert_eq!(
        errors(
            r#"
[[vxlan]]
name = "hostA:vxlan0"
dstport = 70000
vni = 0
group = "239.1.1.1"
"#
        ),
        r#"error: port 70000 is outside 1..=65535
  --> lab.toml:14:11
   |
14 | dstport = 70000
   |           ^^^^^

error: VNI 0 is outside 1..=16777215
  --> lab.toml:15:7
   |
15 | vni = 0
   |       ^
   = help: a VNI is 24 bits; 0 is reserved

error: a multicast group needs `dev`
  --> lab.toml:16:9
   |
16 | group = "239.1.1.1"
   |         ^^^^^^^^^^^
   = help: add dev = "eth0" (the underlay interface)

"#
    );
}

fn lab_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("labs/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "labs/ has {files:?}");
    files
}

#[test]
fn every_lab_file_is_valid_and_built_in_under_its_file_stem() {
    for path in lab_files() {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).expect("read lab");
        let lab = Lab::from_source(&text)
            .unwrap_or_else(|d| panic!("{shown} is invalid:\n{}", render(&shown, &text, &d)));
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("stem");
        // Lab names cannot hold dots (they separate the parts of namespace names).
        assert_eq!(
            lab.name,
            stem.replace('.', ""),
            "{shown}: [lab] name is not the file stem"
        );
        assert!(
            lab.title.is_some() && lab.source.is_some(),
            "{shown}: needs a title and the write-up it reproduces (source)"
        );
        assert_eq!(
            labs::builtin(&lab.name),
            Some(text.as_str()),
            "{shown} is not in src/labs.rs BUILTIN"
        );
    }
}

#[test]
fn vxlab_lint_accepts_every_lab_file() {
    let files = lab_files();
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .arg("lint")
        .args(&files)
        .output()
        .expect("run vxlab lint");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in &files {
        assert!(
            stdout.contains(&format!("{}: ok", f.display())),
            "{}: {stdout}",
            f.display()
        );
    }
}

#[test]
fn vxlab_lint_fails_with_file_line_and_column() {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    let source = format!("{BASE}\n[[vxlan]]\nname = \"hostA:vxlan0\"\nvni = 0\n");
    std::io::Write::write_all(&mut file, source.as_bytes()).expect("write");
    let path = file.path().display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_vxlab"))
        .args(["lint", &path])
        .output()
        .expect("run vxlab lint");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "lint accepted it: {stderr}");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains(&format!(
            "error: VNI 0 is outside 1..=16777215\n  --> {path}:14:7\n"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("14 | vni = 0\n   |       ^\n"), "{stderr}");
    assert!(
        stderr.contains(&format!("{path}: 1 error found; nothing was changed")),
        "{stderr}"
    );
}

#[test]
fn the_example_of_labs_readme_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labs/README.md");
    let readme = std::fs::read_to_string(&path).expect("labs/README.md");
    let start = readme.find("```toml\n").expect("a ```toml block") + "```toml\n".len();
    let len = readme[start..].find("```").expect("end of the block");
    let example = &readme[start..start + len];
    let lab = Lab::from_source(example)
        .unwrap_or_else(|d| panic!("{}", render("labs/README.md example", example, &d)));
    assert_eq!(lab.name, "two-containers");
    assert_eq!(lab.vxlans.len(), 2);
    assert_eq!(lab.processes.len(), 1);
}
