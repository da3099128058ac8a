//! The panel's styles, in colour or, when `NO_COLOR` is set, with text attributes only
//! (bold, reverse, crossed out), so nothing depends on colour alone.

use ratatui::style::{Color, Modifier, Style};

use super::diff::{Change, Strength};

/// Whether the environment asks for no colour (<https://no-color.org>: `NO_COLOR` set and
/// not empty).
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Styles, with or without colour.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    color: bool,
}

impl Theme {
    /// The theme; `color` false uses attributes only.
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// A pane's border.
    pub fn border(self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, _) => self.fg(Color::DarkGray),
        }
    }

    /// Titles and headers.
    #[expect(
        clippy::unused_self,
        reason = "every style is asked of the theme, colour or not"
    )]
    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected item.
    #[expect(
        clippy::unused_self,
        reason = "every style is asked of the theme, colour or not"
    )]
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The node or packet of the hop being walked.
    pub fn hop(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Magenta)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }

    /// Less important text.
    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// Keys in hints and help.
    pub fn key(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Errors.
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Good news.
    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    /// A row marked `change`, at `strength`.
    pub fn change(self, change: Change, strength: Strength) -> Style {
        let base = match change {
            Change::Added => self.fg(Color::Green),
            Change::Changed => self.fg(Color::Yellow),
            Change::Removed => self.fg(Color::Red).add_modifier(Modifier::CROSSED_OUT),
        };
        match strength {
            Strength::Fresh => base.add_modifier(Modifier::BOLD),
            Strength::Fading => base,
            Strength::Lingering => self.dim().add_modifier(Modifier::CROSSED_OUT),
            Strength::None => Style::new(),
        }
    }

    /// An interface: present and up, present and down, or not there (yet).
    pub fn link(self, state: Option<&(bool, String)>) -> Style {
        match state {
            None => self.dim(),
            Some((true, s)) if s != "DOWN" && s != "LOWERLAYERDOWN" => self.fg(Color::Green),
            Some(_) => self.fg(Color::Red),
        }
    }

    /// A neighbour state.
    pub fn neigh_state(self, state: &str) -> Style {
        match state {
            "REACHABLE" => self.fg(Color::Green),
            "STALE" | "DELAY" | "PROBE" | "INCOMPLETE" => self.fg(Color::Yellow),
            "FAILED" => self.fg(Color::Red),
            "PERMANENT" | "NOARP" => self.fg(Color::Blue),
            _ => Style::new(),
        }
    }

    /// The bytes of the `i`-th layer in the hex dump.
    pub fn layer(self, i: usize) -> Style {
        const COLORS: [Color; 6] = [
            Color::Cyan,
            Color::Green,
            Color::Yellow,
            Color::Magenta,
            Color::Blue,
            Color::Red,
        ];
        if self.color {
            Style::new().fg(COLORS[i % COLORS.len()])
        } else if i % 2 == 1 {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        }
    }
}
