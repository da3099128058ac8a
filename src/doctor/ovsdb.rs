//! What the doctor and `vxlab explain` know of a host's Open vSwitch: whether its daemons
//! run, its bridges' ports and interfaces (type, options, state) and its flows, read with
//! `ovs-vsctl` and `ovs-ofctl` from the host's own directory (OVS keeps all that in ovsdb
//! and in ovs-vswitchd, not in the kernel). Parsing is pure; [`read`] runs the tools.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::Serialize;
use serde_json::Value;

use crate::model::OvsHost;

/// An Open vSwitch interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OvsInterface {
    /// Name.
    pub name: String,
    /// The bridge whose port it is.
    pub bridge: String,
    /// `vxlan`, `internal`, or empty for a kernel device (`system`).
    pub kind: String,
    /// `options`: `remote_ip`, `key`, `dst_port`, …
    pub options: BTreeMap<String, String>,
    /// Port number in the flow tables (`ofport`).
    pub ofport: Option<i64>,
    /// `admin_state` is `up`.
    pub admin_up: bool,
    /// `link_state` is `up`.
    pub link_up: bool,
    /// What ovs-vswitchd says is wrong with it.
    pub error: Option<String>,
}

impl OvsInterface {
    /// Its options as `ovs-vsctl get Interface NAME options` shows them, for evidence.
    pub fn options_text(&self) -> String {
        let kv: Vec<String> = self
            .options
            .iter()
            .map(|(k, x)| format!("{k}={x}"))
            .collect();
        format!(
            "ovs-vsctl get Interface {} options: {{{}}}",
            self.name,
            kv.join(", ")
        )
    }
}

/// What a flow does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowAction {
    /// Sets the tunnel id, i.e. the VNI a `key=flow` VXLAN port sends (`set_field:N->tun_id`,
    /// shown as `load:0xN->NXM_NX_TUN_ID[]`).
    SetTunnel(u64),
    /// `NORMAL`: switch it like a learning bridge.
    Normal,
    /// `drop`, or no action at all.
    Drop,
    /// `output:PORT`.
    Output(String),
    /// Anything else, as written.
    Other(String),
}

/// One flow of a bridge (table 0 only; the labs use nothing else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OvsFlow {
    /// Bridge.
    pub bridge: String,
    /// Priority (32768 when not given, the protocol's default).
    pub priority: u32,
    /// `in_port` match, by name.
    pub in_port: Option<String>,
    /// `tun_id` match.
    pub tun_id: Option<u64>,
    /// Actions, in order.
    pub actions: Vec<FlowAction>,
    /// The flow as written or dumped.
    pub text: String,
}

/// One host's Open vSwitch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OvsState {
    /// Its directory.
    pub dir: String,
    /// `--db` of `ovs-vsctl`.
    pub db: String,
    /// ovsdb-server runs.
    pub db_running: bool,
    /// ovs-vswitchd runs.
    pub switch_running: bool,
    /// Interfaces of every bridge (each bridge's own internal one included).
    pub interfaces: Vec<OvsInterface>,
    /// Flows of every bridge.
    pub flows: Vec<OvsFlow>,
    /// What could not be read.
    pub errors: Vec<String>,
}

impl OvsState {
    /// Interface `name`.
    pub fn interface(&self, name: &str) -> Option<&OvsInterface> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    /// The flow of `bridge` a packet coming in on `in_port` with tunnel id `tun_id` hits:
    /// the highest priority one that matches.
    pub fn flow_for(&self, bridge: &str, in_port: &str, tun_id: Option<u64>) -> Option<&OvsFlow> {
        self.flows
            .iter()
            .filter(|f| f.bridge == bridge)
            .filter(|f| f.in_port.as_deref().is_none_or(|p| p == in_port))
            .filter(|f| f.tun_id.is_none_or(|t| Some(t) == tun_id))
            .max_by_key(|f| f.priority)
    }
}

fn number(v: &str) -> Option<u64> {
    let v = v.trim();
    v.strip_prefix("0x")
        .map_or_else(|| v.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
}

fn action(a: &str) -> FlowAction {
    let a = a.trim();
    if a.eq_ignore_ascii_case("normal") {
        return FlowAction::Normal;
    }
    if a.eq_ignore_ascii_case("drop") {
        return FlowAction::Drop;
    }
    let tunnel = a
        .strip_prefix("load:")
        .and_then(|r| r.strip_suffix("->NXM_NX_TUN_ID[]"))
        .or_else(|| {
            a.strip_prefix("set_field:")
                .and_then(|r| r.strip_suffix("->tun_id"))
        })
        .or_else(|| a.strip_prefix("set_tunnel:"))
        .or_else(|| a.strip_prefix("set_tunnel64:"));
    if let Some(n) = tunnel.and_then(number) {
        return FlowAction::SetTunnel(n);
    }
    if let Some(p) = a.strip_prefix("output:") {
        return FlowAction::Output(p.trim_matches('"').to_string());
    }
    FlowAction::Other(a.to_string())
}

/// A flow of `bridge` as `ovs-ofctl --names --no-stats dump-flows` prints it, or as
/// `ovs-ofctl add-flow` takes it.
pub fn parse_flow(bridge: &str, text: &str) -> Option<OvsFlow> {
    let text = text.trim();
    let at = text.find("actions=")?;
    let (matches, actions) = (&text[..at], &text[at + "actions=".len()..]);
    let mut flow = OvsFlow {
        bridge: bridge.to_string(),
        priority: 32768,
        in_port: None,
        tun_id: None,
        actions: actions
            .split(',')
            .filter(|a| !a.trim().is_empty())
            .map(action)
            .collect(),
        text: text.to_string(),
    };
    if flow.actions.is_empty() {
        flow.actions.push(FlowAction::Drop);
    }
    for field in matches.split([',', ' ']).filter(|f| !f.is_empty()) {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "priority" => flow.priority = v.parse().unwrap_or(32768),
            "in_port" => flow.in_port = Some(v.trim_matches('"').to_string()),
            "tun_id" => flow.tun_id = number(v.split('/').next().unwrap_or(v)),
            _ => {}
        }
    }
    Some(flow)
}

/// An ovsdb JSON value as text: strings and numbers as they are, empty sets as nothing.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(a) if a.first() == Some(&Value::from("set")) => a
            .get(1)
            .and_then(Value::as_array)
            .and_then(|x| x.first())
            .and_then(scalar),
        _ => None,
    }
}

/// Interfaces from `ovs-vsctl --format=json --columns=name,type,options,ofport,admin_state,
/// link_state,error list Interface`, with the bridge of each (from `list-ports`).
pub fn parse_interfaces(json: &Value, bridge_of: &BTreeMap<String, String>) -> Vec<OvsInterface> {
    let heads: Vec<&str> = json["headings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let col = |row: &Value, name: &str| {
        heads
            .iter()
            .position(|h| *h == name)
            .map(|i| row[i].clone())
    };
    json["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| {
            let name = col(row, "name").as_ref().and_then(scalar)?;
            let options = col(row, "options")
                .and_then(|m| m.get(1).and_then(Value::as_array).cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|kv| Some((scalar(&kv[0])?, scalar(&kv[1])?)))
                .collect();
            Some(OvsInterface {
                bridge: bridge_of.get(&name).cloned().unwrap_or_default(),
                kind: col(row, "type")
                    .as_ref()
                    .and_then(scalar)
                    .unwrap_or_default(),
                options,
                ofport: col(row, "ofport")
                    .as_ref()
                    .and_then(scalar)
                    .and_then(|p| p.parse().ok()),
                admin_up: col(row, "admin_state").as_ref().and_then(scalar).as_deref()
                    == Some("up"),
                link_up: col(row, "link_state").as_ref().and_then(scalar).as_deref() == Some("up"),
                error: col(row, "error").as_ref().and_then(scalar),
                name,
            })
        })
        .collect()
}

fn pid_alive(dir: &Path, file: &str) -> bool {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Reads the Open vSwitch `host` of running lab `lab` started. Reads only.
pub fn read(lab: &crate::model::LabName, host: &OvsHost) -> OvsState {
    let dir = host.dir(lab);
    let db = host.db(lab);
    let mut st = OvsState {
        dir: dir.display().to_string(),
        db: db.clone(),
        db_running: pid_alive(&dir, "ovsdb-server.pid"),
        switch_running: pid_alive(&dir, "ovs-vswitchd.pid"),
        ..OvsState::default()
    };
    if !st.db_running {
        return st;
    }
    let dbarg = format!("--db={db}");
    let vsctl = |args: &[&str]| {
        let mut a = vec![dbarg.as_str(), "--timeout=5"];
        a.extend_from_slice(args);
        run("ovs-vsctl", &a)
    };
    let mut bridge_of = BTreeMap::new();
    match vsctl(&["list-br"]) {
        Ok(brs) => {
            for br in brs.lines().map(str::trim).filter(|b| !b.is_empty()) {
                bridge_of.insert(br.to_string(), br.to_string());
                match vsctl(&["list-ports", br]) {
                    Ok(ports) => {
                        for p in ports.lines().map(str::trim).filter(|p| !p.is_empty()) {
                            bridge_of.insert(p.to_string(), br.to_string());
                        }
                    }
                    Err(e) => st.errors.push(e),
                }
                if st.switch_running {
                    match run(
                        "ovs-ofctl",
                        &["--names", "--no-stats", "dump-flows", &host.mgmt(lab, br)],
                    ) {
                        Ok(t) => st.flows.extend(t.lines().filter_map(|l| parse_flow(br, l))),
                        Err(e) => st.errors.push(e),
                    }
                }
            }
        }
        Err(e) => st.errors.push(e),
    }
    let cols = "--columns=name,type,options,ofport,admin_state,link_state,error";
    match vsctl(&["--format=json", cols, "list", "Interface"])
        .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => st.interfaces = parse_interfaces(&v, &bridge_of),
        Err(e) => st.errors.push(e),
    }
    st.interfaces.sort_by(|a, b| a.name.cmp(&b.name));
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flows_read_the_same_dumped_or_as_added() {
        let dumped = parse_flow(
            "br1",
            r#" priority=10,in_port="veth-c1" actions=load:0x64->NXM_NX_TUN_ID[],NORMAL"#,
        )
        .unwrap();
        let added = parse_flow(
            "br1",
            "priority=10,in_port=veth-c1,actions=set_field:100->tun_id,NORMAL",
        )
        .unwrap();
        assert_eq!(dumped.actions, added.actions);
        assert_eq!(
            dumped.actions,
            [FlowAction::SetTunnel(100), FlowAction::Normal]
        );
        assert_eq!(added.in_port.as_deref(), Some("veth-c1"));
        let any = parse_flow("br1", " priority=0 actions=NORMAL").unwrap();
        assert_eq!((any.priority, any.in_port.as_ref()), (0, None));
        let st = OvsState {
            flows: vec![dumped, any],
            ..OvsState::default()
        };
        assert_eq!(st.flow_for("br1", "veth-c1", None).unwrap().priority, 10);
        assert_eq!(st.flow_for("br1", "vxlan1", Some(100)).unwrap().priority, 0);
    }

    #[test]
    fn interfaces_come_out_of_ovsdb_json() {
        let v = json!({"headings": ["name","type","options","ofport","admin_state","link_state","error"],
        "data": [
            ["vxlan1","vxlan",["map",[["key","flow"],["remote_ip","192.168.1.9"]]],2,"up","up",["set",[]]],
            ["br1","internal",["map",[]],65534,"down","down",["set",[]]]
        ]});
        let bridge_of = BTreeMap::from([("vxlan1".to_string(), "br1".to_string())]);
        let i = parse_interfaces(&v, &bridge_of);
        assert_eq!(i[0].options["remote_ip"], "192.168.1.9");
        assert_eq!(
            (i[0].bridge.as_str(), i[0].ofport, i[0].link_up),
            ("br1", Some(2), true)
        );
        assert!(!i[1].admin_up && i[1].error.is_none());
    }
}
