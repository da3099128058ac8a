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
