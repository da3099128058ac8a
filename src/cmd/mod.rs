//! The subcommands. Each takes its parsed arguments and returns the exit code; errors
//! carry context for the user.

mod agent;
mod bench;
mod doctor;
mod explain;
mod faults;
mod lab_cmds;
mod load;
mod ovs;
mod read;
mod status;
mod trace;
mod ui;

pub use agent::{AgentArgs, agent};
pub use bench::{BenchArgs, bench};
pub use doctor::{DoctorArgs, doctor};
pub use explain::{ExplainArgs, explain};
pub use faults::{
    BreakArgs, ExerciseArgs, FaultsArgs, FixArgs, break_fault, exercise_cmd, faults, fix_fault,
};
pub use lab_cmds::{
    DownArgs, ExecArgs, LintArgs, ScriptArgs, ServeHttpArgs, UpArgs, down, exec, gc, labs, lint,
    script, serve_http, up,
};
pub use ovs::{OvsHostArgs, ovs_host};
pub use read::{ReadArgs, read};
pub use status::{StatusArgs, status};
pub use trace::{TraceArgs, trace};
pub use ui::{BenchUiArgs, UiArgs, bench_ui, ui};
