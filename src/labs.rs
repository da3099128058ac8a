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
    (
        "docker-19-overlay",
        include_str!("../labs/docker-1.9-overlay.toml"),
    ),
    ("flannel", include_str!("../labs/flannel.toml")),
    ("nat-basics", include_str!("../labs/nat-basics.toml")),
    ("container-net", include_str!("../labs/container-net.toml")),
    ("ovs-vxlan", include_str!("../labs/ovs-vxlan.toml")),
];

/// The scenario text of built-in lab `name`.
/// Lab names hold no dots, so `docker-1.9-overlay` (the file's name) finds
/// `docker-19-overlay`.
pub fn builtin(name: &str) -> Option<&'static str> {
    let name = name.replace('.', "");
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// A generated lab of `containers` namespaces for scale tests: hosts of up to 50
/// containers each, every container on its host's bridge `br0`, and the bridges joined by
/// a multicast VXLAN (VNI 42, group 239.1.1.1) into one L2 network, 10.0.0.0/16.
pub fn generated(name: &str, containers: usize) -> String {
    use std::fmt::Write as _;
    let hosts = containers.div_ceil(50).max(1);
    let mut s = format!(
        "[lab]\nname = \"{name}\"\ntitle = \"Generated: {containers} containers on {hosts} hosts\"\n"
    );
    for h in 0..hosts {
        let host = format!("h{h}");
        let mut ports = String::from("\"vxlan0\"");
        for c in (h * 50..containers).take(50) {
            let _ = write!(ports, ", \"v{c}\"");
        }
        let _ = write!(
            s,
            "\n[[host]]\nname = \"{host}\"\nunderlay = \"192.168.{}.{}/16\"\n\
             [[bridge]]\nname = \"{host}:br0\"\nports = [{ports}]\n\
             [[vxlan]]\nname = \"{host}:vxlan0\"\nvni = 42\ndstport = 4789\ngroup = \"239.1.1.1\"\ndev = \"eth0\"\n",
            h / 250,
            h % 250 + 1,
        );
    }
    for c in 0..containers {
        let node = format!("h{}/c{c}", c / 50);
        let _ = write!(
            s,
            "\n[[namespace]]\nname = \"{node}\"\n[[veth]]\nname = \"h{}:v{c}\"\npeer = \"{node}:eth0\"\n\
             [[address]]\ndev = \"{node}:eth0\"\naddress = \"10.0.{}.{}/16\"\n",
            c / 50,
            c / 250,
            c % 250 + 2
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use crate::model::Lab;

    #[test]
    fn generated_labs_are_valid_at_every_size() {
        for n in [1, 49, 50, 51, 200, 1000] {
            let lab = Lab::from_source(&super::generated("scale", n))
                .unwrap_or_else(|e| panic!("{n}: {e:?}"));
            let containers = lab.nodes.iter().filter(|x| x.id.contains("/c")).count();
            assert_eq!(containers, n);
        }
    }

    #[test]
    fn every_builtin_lab_is_valid() {
        for (name, text) in super::BUILTIN {
            let lab = Lab::from_source(text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(&lab.name, name);
        }
    }
}
