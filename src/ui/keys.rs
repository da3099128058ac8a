//! The one table of key bindings: [`update`](super::update) looks keys up in it, the
//! bottom bar shows its hints, and the `?` help lists it whole.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::model::Focus;

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Apply the next build step (`--step`).
    Step,
    /// Leave the panel.
    Quit,
    /// Show the key help.
    Help,
    /// Next pane.
    FocusNext,
    /// Previous pane.
    FocusPrev,
    /// Up in the focused pane.
    Up,
    /// Down in the focused pane.
    Down,
    /// Left in the focused pane.
    Left,
    /// Right in the focused pane.
    Right,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// To the first row.
    Top,
    /// To the last row (the packet list follows new packets again).
    Bottom,
    /// Select the previous link of the topology.
    PrevLink,
    /// Select the next link of the topology.
    NextLink,
    /// Tables tab by number (`1`–`8`).
    TabNumber,
    /// Next tables tab.
    NextTab,
    /// Scroll the tables to the left (long rules and tuples).
    SideLeft,
    /// Scroll the tables to the right.
    SideRight,
    /// Open the selected packet's details.
    Open,
    /// Close, or stop following a packet.
    Back,
    /// Type a packet filter.
    Filter,
    /// Pause or resume the packet list.
    Pause,
    /// Clear the packet list.
    Clear,
    /// Ping an address from the selected node, and follow the ping.
    Ping,
    /// Next hop of the journey.
    NextHop,
    /// Previous hop of the journey.
    PrevHop,
}

/// A key as written in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character, as typed (shifted characters are their own keys: `N`, `?`).
    Char(char),
    /// Ctrl and a letter.
    Ctrl(char),
    /// Another key.
    Code(KeyCode),
}

impl Key {
    /// How the key is written for the user.
    pub fn label(self) -> String {
        match self {
            Self::Char(' ') => "space".into(),
            Self::Char(c) => c.to_string(),
            Self::Ctrl(c) => format!("Ctrl-{c}"),
            Self::Code(KeyCode::Up) => "↑".into(),
            Self::Code(KeyCode::Down) => "↓".into(),
            Self::Code(KeyCode::Left) => "←".into(),
            Self::Code(KeyCode::Right) => "→".into(),
            Self::Code(KeyCode::PageUp) => "PgUp".into(),
            Self::Code(KeyCode::PageDown) => "PgDn".into(),
            Self::Code(KeyCode::BackTab) => "Shift-Tab".into(),
            Self::Code(c) => c.to_string(),
        }
    }

    fn matches(self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        match (self, ev.code) {
            (Self::Char(c), KeyCode::Char(e)) => !ctrl && c == e,
            (Self::Ctrl(c), KeyCode::Char(e)) => ctrl && c.eq_ignore_ascii_case(&e),
            (Self::Code(c), e) => c == e,
            _ => false,
        }
    }
}

/// When a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// While a `--step` build waits for a key.
    Stepping,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Keys, the first one shown in hints.
    pub keys: &'static [Key],
    /// What they do.
    pub action: Action,
    /// When.
    pub when: When,
    /// Short label for the bottom bar, if shown there.
    pub hint: Option<&'static str>,
    /// Line in the help.
    pub help: &'static str,
}

const fn b(
    keys: &'static [Key],
    action: Action,
    when: When,
    hint: Option<&'static str>,
    help: &'static str,
) -> Binding {
    Binding {
        keys,
        action,
        when,
        hint,
        help,
    }
}

use Key::{Char, Code, Ctrl};
use When::{Always, Stepping};

/// Every binding, in the order of the help. The first match wins.
pub const BINDINGS: &[Binding] = &[
    b(
        &[Char('s'), Code(KeyCode::Enter)],
        Action::Step,
        Stepping,
        Some("next step"),
        "apply the next build step (--step)",
    ),
    b(
        &[Char('q'), Ctrl('c')],
        Action::Quit,
        Always,
        Some("quit"),
        "quit (removes the lab if this panel built it, unless --keep)",
    ),
    b(
        &[Char('?')],
        Action::Help,
        Always,
        Some("help"),
        "show or hide this help",
    ),
    b(
        &[Code(KeyCode::Tab)],
        Action::FocusNext,
        Always,
        Some("pane"),
        "next pane: topology, tables, packets, journey",
    ),
    b(
        &[Code(KeyCode::BackTab)],
        Action::FocusPrev,
        Always,
        None,
        "previous pane",
    ),
    b(
        &[Code(KeyCode::Up), Char('k')],
        Action::Up,
        Always,
        Some("select"),
        "up: previous node, row, packet or hop",
    ),
    b(
        &[Code(KeyCode::Down), Char('j')],
        Action::Down,
        Always,
        None,
        "down: next node, row, packet or hop",
    ),
    b(
        &[Code(KeyCode::Left), Char('h')],
        Action::Left,
        Always,
        None,
        "left: host to the left, previous tab",
    ),
    b(
        &[Code(KeyCode::Right), Char('l')],
        Action::Right,
        Always,
        None,
        "right: host to the right, next tab",
    ),
    b(
        &[Code(KeyCode::PageUp)],
        Action::PageUp,
        Always,
        None,
        "a page up",
    ),
    b(
        &[Code(KeyCode::PageDown)],
        Action::PageDown,
        Always,
        None,
        "a page down",
    ),
    b(
        &[Code(KeyCode::Home), Char('g')],
        Action::Top,
        Always,
        None,
        "first row / oldest packet",
    ),
    b(
        &[Code(KeyCode::End), Char('G')],
        Action::Bottom,
        Always,
        None,
        "last row / follow new packets",
    ),
    b(
        &[Char(']')],
        Action::NextLink,
        Always,
        Some("link"),
        "select the next link (veth, uplink, tunnel): tables and packets follow it",
    ),
    b(
        &[Char('[')],
        Action::PrevLink,
        Always,
        None,
        "select the previous link",
    ),
    b(
        &[
            Char('1'),
            Char('2'),
            Char('3'),
            Char('4'),
            Char('5'),
            Char('6'),
            Char('7'),
            Char('8'),
        ],
        Action::TabNumber,
        Always,
        Some("tab"),
        "tables: links, addresses, routes, neighbours, fdb, nat, ipvs, conntrack",
    ),
    b(
        &[Char('t')],
        Action::NextTab,
        Always,
        None,
        "next tables tab",
    ),
    b(
        &[Char('<')],
        Action::SideLeft,
        Always,
        None,
        "tables: scroll left (back to the start of long rows)",
    ),
    b(
        &[Char('>')],
        Action::SideRight,
        Always,
        Some("sideways"),
        "tables: scroll right, to read long NAT rules and conntrack tuples",
    ),
    b(
        &[Code(KeyCode::Enter)],
        Action::Open,
        Always,
        Some("details"),
        "details of the selected packet: every layer and the bytes",
    ),
    b(
        &[Code(KeyCode::Esc)],
        Action::Back,
        Always,
        None,
        "close; stop following a packet",
    ),
    b(
        &[Char('/')],
        Action::Filter,
        Always,
        Some("filter"),
        "filter packets by text (node, interface, summary)",
    ),
    b(
        &[Char(' ')],
        Action::Pause,
        Always,
        Some("pause"),
        "pause or resume the packet list (capture goes on)",
    ),
    b(
        &[Char('c')],
        Action::Clear,
        Always,
        None,
        "clear the packet list",
    ),
    b(
        &[Char('p')],
        Action::Ping,
        Always,
        Some("ping"),
        "ping an address from the selected node and follow it",
    ),
    b(
        &[Char('n')],
        Action::NextHop,
        Always,
        Some("hop"),
        "next hop of the journey",
    ),
    b(
        &[Char('N')],
        Action::PrevHop,
        Always,
        None,
        "previous hop of the journey",
    ),
];

/// The action of key `ev`, given whether a `--step` build waits for a key.
pub fn lookup(ev: &KeyEvent, stepping: bool) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.when == Always || stepping)
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.action)
}

/// The keys of a binding as the user reads them: `q/Ctrl-c`, `1-8`.
pub fn keys_label(b: &Binding) -> String {
    if b.action == Action::TabNumber {
        return "1-8".into();
    }
    b.keys
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join("/")
}

/// The pane a binding's hint is shown for, if only for one.
fn hint_pane(action: Action) -> Option<Focus> {
    match action {
        Action::NextLink => Some(Focus::Topology),
        Action::SideRight => Some(Focus::Tables),
        Action::Open | Action::Filter | Action::Pause => Some(Focus::Packets),
        _ => None,
    }
}

/// The hints of the bottom bar: (keys, label) of each binding that has one and applies,
/// given whether a `--step` build waits for a key and which pane has the keyboard.
pub fn hints(stepping: bool, focus: Focus) -> Vec<(String, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.when == Always || stepping)
        .filter(|b| hint_pane(b.action).is_none_or(|p| p == focus))
        .filter_map(|b| {
            let first = b.keys.first()?.label();
            let keys = match b.action {
                Action::TabNumber => "1-8".to_string(),
                Action::Up => "↑↓←→".to_string(),
                Action::NextHop => "n/N".to_string(),
                Action::SideRight => "</>".to_string(),
                Action::NextLink => "[/]".to_string(),
                _ => first,
            };
            b.hint.map(|h| (keys, h))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn lookup_honours_context_and_modifiers() {
        let enter = key(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(lookup(&enter, true), Some(Action::Step));
        assert_eq!(lookup(&enter, false), Some(Action::Open));
        assert_eq!(
            lookup(&key(KeyCode::Char('c'), KeyModifiers::CONTROL), false),
            Some(Action::Quit)
        );
        assert_eq!(
            lookup(&key(KeyCode::Char('c'), KeyModifiers::NONE), false),
            Some(Action::Clear)
        );
        assert_eq!(
            lookup(&key(KeyCode::Char('N'), KeyModifiers::SHIFT), false),
            Some(Action::PrevHop)
        );
        assert_eq!(
            lookup(&key(KeyCode::Char('s'), KeyModifiers::NONE), false),
            None
        );
    }

    #[test]
    fn every_action_has_help_and_hints_follow_the_table() {
        assert!(
            BINDINGS
                .iter()
                .all(|b| !b.help.is_empty() && !b.keys.is_empty())
        );
        assert!(
            hints(true, Focus::Topology)
                .iter()
                .any(|(_, h)| *h == "next step")
        );
        assert!(
            !hints(false, Focus::Topology)
                .iter()
                .any(|(_, h)| *h == "next step")
        );
        let labels = |f| {
            hints(false, f)
                .into_iter()
                .map(|(_, h)| h)
                .collect::<Vec<_>>()
        };
        assert!(labels(Focus::Packets).contains(&"filter"));
        assert!(!labels(Focus::Tables).contains(&"filter"));
        assert!(labels(Focus::Tables).contains(&"sideways"));
        assert!(labels(Focus::Topology).contains(&"link"));
    }
}
