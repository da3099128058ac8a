//! Names and small values of the scenario language: node ids, `NODE:IFNAME` references,
//! interface names, MAC addresses, and the namespace names vxlab gives a lab's nodes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Longest interface name the kernel accepts (`IFNAMSIZ` − 1).
pub const IFNAME_MAX: usize = 15;

/// An interface of a node, written `NODE:IFNAME` in scenarios.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfRef {
    /// Node id, `HOST` or `HOST/NAME`.
    pub node: String,
    /// Interface name in that node.
    pub name: String,
}

impl IfRef {
    /// An interface reference.
    pub fn new(node: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            node: node.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for IfRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.name)
    }
}

impl Serialize for IfRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// A locally administered unicast MAC derived from `seed`: stable across runs, so
    /// captures and screenshots of a lab look the same every time.
    pub fn derived(seed: &str) -> Self {
        // FNV-1a, 64 bit.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // splitmix64's finaliser, so seeds differing in one character differ everywhere.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        let b = h.to_be_bytes();
        Self([0x02, b[1], b[2], b[3], b[4], b[5]])
    }

    /// Whether the group bit is set.
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }

    /// Whether all bytes are zero.
    pub fn is_zero(self) -> bool {
        self.0 == [0; 6]
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Mac {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or(())?;
            if part.is_empty() || part.len() > 2 {
                return Err(());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| ())?;
        }
        if parts.next().is_some() {
            return Err(());
        }
        Ok(Self(out))
    }
}

/// Why a name is not acceptable, as a phrase completing "… is not a valid X: ".
pub fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > IFNAME_MAX {
        return Err(format!(
            "it is {} bytes long; the kernel allows at most {IFNAME_MAX}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return Err("`.` and `..` are reserved".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | ':' | '@' | '%'))
    {
        return Err(format!("it contains {c:?}"));
    }
    Ok(())
}

/// Checks a name made of ASCII letters, digits, `_` and `-`, of at most `max` bytes.
pub fn check_word(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "it is {} bytes long; at most {max} are allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return Err(format!(
            "it contains {c:?}; use letters, digits, `_` and `-`"
        ));
    }
    Ok(())
}

/// Longest lab name: it is part of every namespace name of the lab.
pub const LAB_NAME_MAX: usize = 24;

/// What a valid lab name is, for error messages.
pub const LAB_NAME_RULE: &str = "a lab name is 1 to 24 ASCII letters, digits, `_` and `-`, not starting with `-` (as `[lab] \
     name` and `up --name`)";

/// A lab name that was checked ([`check_lab_name`]): letters, digits, `_` and `-`, at most
/// [`LAB_NAME_MAX`] bytes. It cannot be empty, `.`, `..` or hold a `/`, so the paths and
/// namespace names made from it stay inside vxlab's own. Every record path and every
/// namespace prefix is made from one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabName(String);

/// A string that is not a valid lab name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a valid lab name: {why}; {LAB_NAME_RULE}", name.escape_debug())]
pub struct BadLabName {
    /// The string given.
    pub name: String,
    /// What is wrong with it.
    pub why: String,
}

impl LabName {
    /// Checks `name`.
    pub fn new(name: &str) -> Result<Self, BadLabName> {
        check_lab_name(name).map_err(|why| BadLabName {
            name: name.to_string(),
            // The rule itself follows in the message.
            why: why.split(';').next().unwrap_or_default().to_string(),
        })?;
        Ok(Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a lab name: letters, digits, `_` and `-`, at most [`LAB_NAME_MAX`] bytes, not
/// starting with `-` (it would read as an option in the commands vxlab prints).
pub fn check_lab_name(name: &str) -> Result<(), String> {
    check_word(name, LAB_NAME_MAX)?;
    if name.starts_with('-') {
        return Err("it starts with `-`".into());
    }
    Ok(())
}

impl FromStr for LabName {
    type Err = BadLabName;

    fn from_str(s: &str) -> Result<Self, BadLabName> {
        Self::new(s)
    }
}

impl std::ops::Deref for LabName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for LabName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LabName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for LabName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for LabName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for LabName {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl From<LabName> for String {
    fn from(n: LabName) -> Self {
        n.0
    }
}

impl Serialize for LabName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for LabName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Checks a node id from outside a scenario (the command line, a record): `HOST` or
/// `HOST/NAME`, each part letters, digits, `_` and `-`.
pub fn check_node_id(node: &str) -> Result<(), String> {
    let (host, inner) = match node.split_once('/') {
        Some((h, i)) => (h, Some(i)),
        None => (node, None),
    };
    check_word(host, 15)?;
    if let Some(i) = inner {
        check_word(i, 32)?;
    }
    Ok(())
}

/// Prefix of every network namespace of lab `lab`: `vx.LAB.`.
pub fn netns_prefix(lab: &str) -> String {
    format!("vx.{lab}.")
}

/// Network namespace name of node `node` (`HOST` or `HOST/NAME`) of lab `lab`.
pub fn netns_name(lab: &str, node: &str) -> String {
    format!("{}{}", netns_prefix(lab), node.replace('/', "."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_and_print() {
        let m: Mac = "02:42:AC:11:0:2".parse().unwrap();
        assert_eq!(m.to_string(), "02:42:ac:11:00:02");
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "zz:42:ac:11:00:02",
            "002:42:ac:11:00:02",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_macs_are_local_unicast_and_stable() {
        let a = Mac::derived("lab/hostA:veth100");
        assert_eq!(a, Mac::derived("lab/hostA:veth100"));
        assert_ne!(a, Mac::derived("lab/hostB:veth100"));
        assert_eq!(a.0[0], 0x02);
    }

    #[test]
    fn interface_names_follow_the_kernel() {
        assert!(check_ifname("veth100").is_ok());
        assert!(check_ifname("pandora_bridge").is_ok());
        assert!(check_ifname("a_sixteen_bytes_").is_err());
        assert!(check_ifname("a b").is_err());
        assert!(check_ifname("..").is_err());
        assert!(check_ifname("x/y").is_err());
    }

    #[test]
    fn lab_names_cannot_make_paths() {
        for ok in ["l", "docker-overlay", "a_b-9", "x23456789012345678901234"] {
            assert_eq!(LabName::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/tmp/v",
            "a/b",
            "a b",
            "-",
            "x234567890123456789012345",
            "caf\u{e9}",
            "a.b",
            "a\nb",
        ] {
            let e = LabName::new(bad).unwrap_err();
            assert!(e.to_string().contains("1 to 24 ASCII letters"), "{e}");
        }
        assert!(serde_json::from_str::<LabName>("\"..\"").is_err());
        assert_eq!(
            serde_json::from_str::<LabName>("\"ok\"").unwrap(),
            LabName::new("ok").unwrap()
        );
    }

    #[test]
    fn node_ids_from_outside_are_words() {
        assert!(check_node_id("hostA").is_ok());
        assert!(check_node_id("hostA/sandbox_1").is_ok());
        for bad in ["", "..", "a/../b", "a/b/c", "/a", "a/", "a b", "a.b"] {
            assert!(check_node_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn namespaces_carry_the_lab_name() {
        assert_eq!(
            netns_name("docker-overlay", "hostA/sandbox_1"),
            "vx.docker-overlay.hostA.sandbox_1"
        );
        assert_eq!(netns_name("l", "hostA"), "vx.l.hostA");
    }
}
