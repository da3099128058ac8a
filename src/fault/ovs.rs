//! Changing one column of an Open vSwitch interface and putting it back, with
//! `ovs-vsctl` against the host's own database (its `vxlab ovs-host` directory). OVS's
//! configuration lives in ovsdb, not in the kernel: there is no netlink for it.

use std::process::Command;

use super::FaultError;

/// Runs `ovs-vsctl --db=DB ARGS…`; its stdout, or what it said.
fn vsctl(db: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("ovs-vsctl")
        .arg(format!("--db={db}"))
        .arg("--timeout=10")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ovs-vsctl (is Open vSwitch installed?): {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The shell command that sets `column` of `interface` to `value` (`None`: removes a
/// map key that was not there).
pub fn set_command(db: &str, interface: &str, column: &str, value: Option<&str>) -> String {
    match (value, column.split_once(':')) {
        (Some(v), _) => format!("ovs-vsctl --db={db} set Interface {interface} {column}={v}"),
        (None, Some((map, key))) => {
            format!("ovs-vsctl --db={db} remove Interface {interface} {map} {key}")
        }
        (None, None) => format!("ovs-vsctl --db={db} clear Interface {interface} {column}"),
    }
}

/// The value of `column` of `interface` as `ovs-vsctl get` prints it (strings quoted,
/// ready to be set again); `None` for a map key that is not there.
pub fn get(db: &str, interface: &str, column: &str) -> Result<Option<String>, FaultError> {
    match vsctl(db, &["get", "Interface", interface, column]) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.contains("no key") => Ok(None),
        Err(why) => Err(FaultError::Ovs {
            command: format!("ovs-vsctl --db={db} get Interface {interface} {column}"),
            why,
        }),
    }
}

/// Sets `column` of `interface` to `value`, or removes the map key (`None`).
pub fn set(db: &str, interface: &str, column: &str, value: Option<&str>) -> Result<(), FaultError> {
    let command = set_command(db, interface, column, value);
    let assignment = value.map(|v| format!("{column}={v}"));
    let args: Vec<&str> = match (&assignment, column.split_once(':')) {
        (Some(a), _) => vec!["set", "Interface", interface, a],
        (None, Some((map, key))) => vec!["remove", "Interface", interface, map, key],
        (None, None) => vec!["clear", "Interface", interface, column],
    };
    vsctl(db, &args)
        .map(|_| ())
        .map_err(|why| FaultError::Ovs { command, why })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_put_back_a_value_or_remove_a_key_that_was_not_there() {
        assert_eq!(
            set_command("unix:/d/db.sock", "vxlan1", "options:key", Some("flow")),
            "ovs-vsctl --db=unix:/d/db.sock set Interface vxlan1 options:key=flow"
        );
        assert_eq!(
            set_command("unix:/d/db.sock", "vxlan1", "options:dst_port", None),
            "ovs-vsctl --db=unix:/d/db.sock remove Interface vxlan1 options dst_port"
        );
    }
}
