//! Open vSwitch datapaths: which one a lab's OVS bridges use.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// What a process's command writes where the chosen datapath goes, e.g.
/// `vxlab ovs-host --datapath {ovs_datapath}`; a lab with it runs Open vSwitch.
pub const OVS_DATAPATH_PLACEHOLDER: &str = "{ovs_datapath}";

/// The datapath of a lab's Open vSwitch bridges (their `datapath_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OvsDatapath {
    /// The kernel's (module `openvswitch`): `datapath_type=system`, OVS's default and the
    /// write-ups'.
    #[default]
    System,
    /// OVS's userspace datapath, inside ovs-vswitchd: `datapath_type=netdev`.
    Netdev,
}

impl OvsDatapath {
    /// The `datapath_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Netdev => "netdev",
        }
    }

    /// What it is, in words: `kernel datapath` or `userspace datapath`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::System => "kernel datapath",
            Self::Netdev => "userspace datapath",
        }
    }
}

impl fmt::Display for OvsDatapath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OvsDatapath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "system" => Ok(Self::System),
            "netdev" => Ok(Self::Netdev),
            _ => Err(format!(
                "unknown Open vSwitch datapath `{s}`: `system` (the kernel's) or `netdev` (userspace)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::model::{Lab, Program};

    const LAB: &str = r#"
[lab]
name = "o"
[[host]]
name = "h"
[[process]]
node = "h"
command = ["vxlab", "ovs-host", "--dir", "{state}/ovs", "--datapath", "{ovs_datapath}"]
"#;

    #[test]
    fn a_lab_runs_ovs_when_a_command_takes_the_datapath() {
        let lab = Lab::from_source(LAB).unwrap();
        assert!(lab.uses_ovs());
        assert_eq!(
            lab.ovs_datapath,
            OvsDatapath::System,
            "the write-ups' default"
        );
        let no_ovs = LAB.replace("{ovs_datapath}", "netdev");
        assert!(!Lab::from_source(&no_ovs).unwrap().uses_ovs());
        for (name, text) in crate::labs::BUILTIN {
            let lab = Lab::from_source(text).unwrap();
            assert_eq!(lab.uses_ovs(), *name == "ovs-vxlan", "{name}");
        }
    }

    #[test]
    fn the_command_gets_the_chosen_datapath() {
        let lab = Lab::from_source(LAB)
            .unwrap()
            .with_ovs_datapath(OvsDatapath::Netdev);
        let run = lab.processes[0]
            .program
            .for_lab(&lab, Path::new("/run/vxlab/o"));
        let want = [
            "vxlab",
            "ovs-host",
            "--dir",
            "/run/vxlab/o/ovs",
            "--datapath",
            "netdev",
        ];
        assert_eq!(
            run,
            Program::Command(want.iter().map(ToString::to_string).collect())
        );
    }

    #[test]
    fn datapaths_parse_and_print_as_ovs_writes_them() {
        for d in [OvsDatapath::System, OvsDatapath::Netdev] {
            assert_eq!(d.to_string().parse::<OvsDatapath>(), Ok(d));
        }
        assert!("dpdk".parse::<OvsDatapath>().is_err());
    }
}
