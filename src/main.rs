//! `spread`: the command of the Spread object store — run one process (`meta`, `chunkd`,
//! `gateway`), a whole local cluster (`dev`), or administer a cluster (`admin`).

mod admin;
mod bench;
mod cli;
mod cluster;
mod dev;
mod error;
mod logging;
mod serve;
mod signals;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    // Servers get a multi-threaded runtime. `dev` and `admin` run on this thread only: `dev`'s
    // children are tied to the thread that spawned them (PR_SET_PDEATHSIG), which must live as
    // long as the cluster.
    let multi_thread = matches!(
        cli.command,
        Command::Meta(_)
            | Command::Chunkd(_)
            | Command::Gateway(_)
            | Command::Bench(_)
            | Command::Keygen { .. }
    );
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            report(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Meta(a) => serve::meta(a).await,
            Command::Chunkd(a) => serve::chunkd(a).await,
            Command::Gateway(a) => serve::gateway(a).await,
            Command::Dev(a) => dev::run(a).await,
            Command::Admin(a) => admin::run(a).await,
            Command::Bench(a) => bench::run(a).await,
            Command::Keygen { file } => keygen(&file),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Prints a failure on stderr (ignoring a closed stderr: there is nowhere else to say it).
fn report(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "spread: {message}");
}

/// `spread keygen FILE`.
fn keygen(file: &std::path::Path) -> error::Result<()> {
    internal_auth::Secret::generate()
        .write_new(file)
        .map_err(|e| error::Error::Usage(e.to_string()))?;
    println!("wrote a new secret to {}", file.display());
    Ok(())
}
