//! The labs shipped inside the binary, so `vxlab up docker-overlay` works from any
//! directory. Each is a file of `labs/`.

/// The lab `vxlab` opens when given none.
pub const DEFAULT: &str = "docker-overlay";

/// `(name, scenario text)` of every built-in lab.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "docker-overlay",
        include_str!("../labs/docker-overlay.toml"),
    ),
    ("bridge-basics", include_str!("../labs/bridge-basics.toml")),
    ("vxlan-p2p", include_str!("../labs/vxlan-p2p.toml")),
    (
        "vxlan-multicast",
        include_str!("../labs/vxlan-multicast.toml"),
    ),
    ("vxlan-bridge", include_str!("../labs/vxlan-bridge.toml")),
    ("k8s-iptables", include_str!("../labs/k8s-iptables.toml")),
];

/// The scenario text of built-in lab `name`.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
