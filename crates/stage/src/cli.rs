//! The options every stage takes, logging set-up, and the reporter that turns an error
//! chain into a message on stderr and a non-zero exit.

use std::path::PathBuf;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Options shared by every stage.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The parameters file; the stage reads its own section.
    #[arg(long, value_name = "PATH", default_value = "params.yaml")]
    pub params: PathBuf,
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

impl Common {
    fn init_logging(&self) {
        let level = match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "info",
            (false, 1) => "debug",
            (false, _) => "trace",
        };
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .compact()
            .try_init();
    }
}

/// Runs a stage: sets up logging from `common`, checks the environment, calls `run`, and on
/// error prints the error and its causes to stderr and exits with code 1.
pub fn main<A>(args: A, common: impl FnOnce(&A) -> &Common, run: impl FnOnce(A) -> anyhow::Result<()>) -> ExitCode {
    common(&args).init_logging();
    exit(check_env().and_then(|()| run(args)))
}

/// Refuses a value of `MOVIEREC_SIMD` that names no instruction set of this CPU, before any
/// work (the fits would otherwise take the CPU's best).
///
/// # Errors
/// The value, and the values this CPU accepts.
pub fn check_env() -> anyhow::Result<()> {
    movierec_core::models::base::simd::Isa::from_env().map(|_| ()).map_err(anyhow::Error::msg)
}

/// The exit of a binary: success, or the error and its causes on stderr and code 1.
pub fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
