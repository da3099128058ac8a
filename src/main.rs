//! The `vxlab` command: parses the command line and hands each subcommand to [`cmd`].

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build Linux container-networking labs (namespaces, veth, bridges, VXLAN) from TOML
/// scenarios, look inside them, and tear them down without a trace.
///
/// A lab is a TOML file (see labs/README.md) or the name of a built-in lab. Every
/// machine of a lab is a network namespace named vx.LAB.HOST[.NAME]; nothing is created
/// in your host's own namespace.
#[derive(Parser)]
#[command(name = "vxlab", version, propagate_version = true, after_help = EXAMPLES)]
struct Cli {
    #[arg(long, global = true, help = ROOTLESS)]
    rootless: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

const ROOTLESS: &str = "Run without root: labs live inside a user namespace vxlab makes and \
keeps for you (its own network, mounts and /run), so nothing on the host can be touched. Every \
command that uses labs needs the flag, or VXLAB_ROOTLESS=1 in the environment. Unavailable \
there: IPVS (labs emulate it with nftables) and kernel drop reasons";

const EXAMPLES: &str = "\
Examples:
  sudo vxlab up docker-overlay          build the default lab (built in)
  sudo vxlab status docker-overlay      its namespaces, links and addresses
  sudo vxlab exec docker-overlay hostA/container -- ping -c1 10.0.0.14
  sudo vxlab down docker-overlay        remove it
  vxlab script labs/vxlab-p2p.toml      the same lab as ip/bridge commands
  vxlab lint labs/*.toml                check scenarios without root
  vxlab --rootless up nat-basics        no sudo: the lab lives in a user namespace";

#[derive(Subcommand)]
enum Command {
    /// Check scenario files without touching anything (no root needed).
    Lint(cmd::LintArgs),
    /// Build a lab: all of it, or nothing (a failed step rolls everything back).
    Up(cmd::UpArgs),
    /// Remove a lab: its processes and namespaces. Safe to repeat; also cleans up after
    /// an interrupted `up`.
    Down(cmd::DownArgs),
    /// Remove what interrupted `up`s left behind (labs that never finished building).
    /// Touches only namespaces named like vxlab's own; finished labs are kept.
    Gc,
    /// Show labs that are up: namespaces, links, addresses, routes, neighbours, FDB.
    Status(cmd::StatusArgs),
    /// Run a command inside a lab node's network namespace.
    Exec(cmd::ExecArgs),
    /// Print the ip/bridge/sysctl commands that build (or remove) a lab, in order.
    Script(cmd::ScriptArgs),
    /// Send a probe from a node and follow each packet hop by hop through the lab.
    Trace(cmd::TraceArgs),
    /// List a lab's faults: breakages to plant for practice (`[[fault]]` in its scenario).
    Faults(cmd::FaultsArgs),
    /// Plant one of a lab's faults, recording what it changes so `fix` can undo it.
    Break(cmd::BreakArgs),
    /// Undo a planted fault exactly: put back what `break` removed or changed.
    Fix(cmd::FixArgs),
    /// Work through a lab's exercises: each plants a fault, you repair the lab, `--check`
    /// grades it.
    Exercise(cmd::ExerciseArgs),
    /// Read every namespace of a running lab and report what is wrong, with evidence and
    /// the commands that fix it. Exit status 1 when something is found.
    Doctor(cmd::DoctorArgs),
    /// Predict a packet's path from the live tables, send a real probe, and show the first
    /// hop where they part, with the table entry responsible.
    Explain(cmd::ExplainArgs),
    /// Decode pcap/pcapng files and follow packets across their capture points (no root).
    Read(cmd::ReadArgs),
    /// List the built-in labs.
    Labs,
    /// Open the live panel on a lab (building it first if it is not up): its topology,
    /// kernel tables as they change, packets and their hop-by-hop journeys. `vxlab` alone
    /// opens it on the default lab.
    Ui(cmd::UiArgs),
    /// Measure the live panel: frame time with a full packet buffer, update throughput.
    #[command(hide = true)]
    BenchUi(cmd::BenchUiArgs),
    /// Time `up`/`down` against bash running the equivalent script.
    Bench(cmd::BenchArgs),
    /// Flanneld's vxlan backend for one lab node: registers the node's VTEP in etcd and
    /// programs the other nodes' ARP, FDB and routes from it (run inside the node).
    Agent(cmd::AgentArgs),
    /// One emulated machine's Open vSwitch (labs/ovs-vxlan.toml): creates its database in
    /// DIR, starts ovsdb-server and ovs-vswitchd there, runs the ovs-vsctl commands.
    #[command(hide = true)]
    OvsHost(cmd::OvsHostArgs),
    /// vxlab's tiny HTTP server, run by labs' `http = PORT` processes.
    #[command(hide = true)]
    ServeHttp(cmd::ServeHttpArgs),
    /// Keeps open the user namespace that holds rootless labs (see --rootless).
    #[command(name = vxlab::rootless::HOLDER_COMMAND, hide = true)]
    WorldHolder,
}

impl Command {
    /// Whether the command builds, reads or changes labs (so `--rootless` runs it inside
    /// the user's rootless world), rather than only reading files or running inside a lab.
    fn uses_labs(this: Option<&Self>) -> bool {
        !matches!(
            this,
            Some(
                Self::Lint(_)
                    | Self::Script(_)
                    | Self::Read(_)
                    | Self::Labs
                    | Self::BenchUi(_)
                    | Self::Agent(_)
                    | Self::OvsHost(_)
                    | Self::ServeHttp(_)
                    | Self::WorldHolder
            )
        )
    }
}

fn rootless_requested(cli: &Cli) -> bool {
    cli.rootless || std::env::var_os("VXLAB_ROOTLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

fn main() -> ExitCode {
    vxlab::sys::default_sigpipe();
    let cli = Cli::parse();
    let world = if rootless_requested(&cli) && Command::uses_labs(cli.command.as_ref()) {
        match vxlab::rootless::enter() {
            Ok(world) => world,
            Err(e) => {
                eprintln!("vxlab: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let result = run(cli.command);
    if let Some(world) = world {
        let (created, holder) = (world.created(), world.holder());
        if !world.leave() && created {
            eprintln!(
                "vxlab: rootless: your labs live in a user namespace made for them, kept open by \
                 process {holder}; the last lab's `down` removes it."
            );
        }
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vxlab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Option<Command>) -> anyhow::Result<ExitCode> {
    match command {
        None => cmd::ui(&cmd::UiArgs::default_lab()),
        Some(Command::Lint(a)) => cmd::lint(&a),
        Some(Command::Up(a)) => cmd::up(&a),
        Some(Command::Down(a)) => cmd::down(&a),
        Some(Command::Gc) => cmd::gc(),
        Some(Command::Status(a)) => cmd::status(&a),
        Some(Command::Exec(a)) => cmd::exec(&a),
        Some(Command::Script(a)) => cmd::script(&a),
        Some(Command::Trace(a)) => cmd::trace(&a),
        Some(Command::Read(a)) => cmd::read(&a),
        Some(Command::Faults(a)) => cmd::faults(&a),
        Some(Command::Doctor(a)) => cmd::doctor(&a),
        Some(Command::Exercise(a)) => cmd::exercise_cmd(&a),
        Some(Command::Explain(a)) => cmd::explain(&a),
        Some(Command::Break(a)) => cmd::break_fault(&a),
        Some(Command::Fix(a)) => cmd::fix_fault(&a),
        Some(Command::Labs) => cmd::labs(),
        Some(Command::Ui(a)) => cmd::ui(&a),
        Some(Command::BenchUi(a)) => cmd::bench_ui(&a),
        Some(Command::Bench(a)) => cmd::bench(&a),
        Some(Command::ServeHttp(a)) => cmd::serve_http(&a),
        Some(Command::Agent(a)) => cmd::agent(&a),
        Some(Command::OvsHost(a)) => cmd::ovs_host(&a),
        Some(Command::WorldHolder) => {
            vxlab::rootless::hold()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
