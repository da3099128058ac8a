//! Open vSwitch on this machine: whether a lab's OVS bridges can use the kernel's
//! datapath, and the programs every lab running OVS needs.

use std::path::Path;

use crate::model::OvsDatapath;

/// Present while the kernel's Open vSwitch datapath (module `openvswitch`) is loaded.
pub const MODULE_DIR: &str = "/sys/module/openvswitch";

/// The Open vSwitch programs a lab's `vxlab ovs-host` runs (Debian package
/// openvswitch-switch).
pub const PROGRAMS: &[&str] = &[
    "ovsdb-tool",
    "ovsdb-server",
    "ovs-vswitchd",
    "ovs-vsctl",
    "ovs-ofctl",
];

/// Whether the running kernel has the Open vSwitch datapath (module `openvswitch`).
pub fn kernel_has_datapath() -> bool {
    Path::new(MODULE_DIR).is_dir()
}

/// The datapath a lab's OVS gets unless told otherwise: the kernel's where it exists,
/// else OVS's userspace datapath.
pub fn preferred_datapath() -> OvsDatapath {
    if kernel_has_datapath() {
        OvsDatapath::System
    } else {
        OvsDatapath::Netdev
    }
}

/// The device OVS's userspace datapath makes its bridges' internal ports with.
pub const TUN: &str = "/dev/net/tun";

/// Opens [`TUN`] as ovs-vswitchd will, to learn early whether this user may.
pub fn open_tun() -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().read(true).write(true).open(TUN)
}

/// The first Open vSwitch program that is not installed, if any.
pub fn missing_program() -> Option<&'static str> {
    PROGRAMS
        .iter()
        .copied()
        .find(|p| !crate::nat::apply::in_path(p))
}
