//! Checks of `[[exercise]]` entries: a valid unique name, a declared fault, a task and a
//! check (a ping or a TCP connection from an existing node).

use super::Checker;
use crate::model::names::check_word;
use crate::model::{Check, Exercise, Lab};
use crate::scenario::Scenario;

impl Checker {
    pub(super) fn exercises(&mut self, s: &Scenario, lab: &mut Lab) {
        let mut names = std::collections::HashSet::new();
        for x in &s.exercises {
            let name = x.name.get_ref();
            if let Err(why) = check_word(name, 32) {
                self.err(
                    x.name.span(),
                    format!("`{name}` is not a valid exercise name: {why}"),
                );
                continue;
            }
            if !names.insert(name.clone()) {
                self.err(
                    x.name.span(),
                    format!("exercise `{name}` is declared twice"),
                );
                continue;
            }
            let fault = x.fault.get_ref();
            if !lab.faults.iter().any(|f| &f.name == fault) {
                let known: Vec<&str> = lab.faults.iter().map(|f| f.name.as_str()).collect();
                self.err_help(
                    x.fault.span(),
                    format!("there is no fault `{fault}`"),
                    format!(
                        "declared faults: {}",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                continue;
            }
            if x.task.get_ref().trim().is_empty() {
                self.err(x.task.span(), "an exercise needs a task");
                continue;
            }
            let c = x.check.get_ref();
            let Some(from) = self.node_ref(&c.from) else {
                continue;
            };
            let check = match (&c.ping, &c.tcp) {
                (Some(t), None) => self.ip(t).map(Check::Ping),
                (None, Some(t)) => match t.get_ref().parse::<std::net::SocketAddr>() {
                    Ok(a) if a.port() != 0 => Some(Check::Tcp(a)),
                    _ => {
                        self.err(t.span(), format!("`{}` is not an IP:PORT", t.get_ref()));
                        None
                    }
                },
                _ => {
                    self.err_help(
                        x.check.span(),
                        "a check needs exactly one of `ping` and `tcp`",
                        "e.g. check = { from = \"hostA/container\", ping = \"10.0.0.14\" }",
                    );
                    None
                }
            };
            let Some(check) = check else { continue };
            lab.exercises.push(Exercise {
                name: name.clone(),
                fault: fault.clone(),
                task: x.task.get_ref().trim().to_string(),
                hints: x.hints.clone(),
                from,
                check,
            });
        }
    }
}
