//! `spread bench`: an S3 load generator. It creates its bucket, optionally prepares a set of
//! objects, runs one workload (put, get, mixed, list, delete) with N concurrent workers for a
//! duration or a number of operations while showing a live progress line, then reports
//! throughput and latency percentiles (text on stdout, JSON with `--json`) and deletes what
//! it wrote unless `--keep`. It works against any S3 endpoint, so it can measure peers too.
//!
//! Requests are signed here (SigV4, `UNSIGNED-PAYLOAD`) and bodies are generated from one
//! shared 1 MiB random block, so no worker ever holds more than one object.

mod args;
mod body;
mod client;
mod parse;
mod progress;
mod report;
mod stats;
#[cfg(test)]
mod tests;
mod workload;

pub use args::BenchArgs;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use args::{DEFAULT_DURATION, Workload};
use client::S3Client;
use report::{Report, RunInfo};
use workload::{Ctx, Limit, Phase, run_phase};

use crate::error::{Error, Result};

/// Runs `spread bench`.
pub async fn run(args: BenchArgs) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(stop.clone());
    let report = bench(&args, stop).await?;
    print!("{}", report.text());
    let _ = std::io::stdout().flush();
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Bench(format!("encoding the report: {e}")))?;
        std::fs::write(path, json + "\n").map_err(|e| Error::file(path, e))?;
    }
    if report.ops == 0 && report.errors > 0 {
        return Err(Error::Bench(format!(
            "every request failed; first error: {}",
            report.first_error.as_deref().unwrap_or("unknown")
        )));
    }
    Ok(())
}

/// The first Ctrl-C ends the measured phase early (the report and clean-up still happen);
/// a second one exits at once.
fn watch_ctrl_c(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        stop.store(true, Ordering::Relaxed);
        note("interrupted: finishing requests under way (Ctrl-C again to quit at once)");
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
}

/// Prints a note on stderr.
fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "spread bench: {message}");
}

/// Sets up, prepares, runs the measured phase, cleans up; returns the report.
async fn bench(args: &BenchArgs, stop: Arc<AtomicBool>) -> Result<Report> {
    let client = S3Client::new(
        &args.endpoint,
        &args.access_key,
        &args.secret_key,
        &args.region,
        args.concurrency as usize,
        args.timeout,
    )
    .map_err(Error::Usage)?;
    let created_bucket = client
        .create_bucket(&args.bucket)
        .await
        .map_err(|f| Error::Bench(format!("creating bucket {}: {}", args.bucket, f.message)))?;
    let ctx = Arc::new(Ctx::new(
        client,
        args.bucket.clone(),
        args.size,
        body::random_block(),
        args.concurrency,
        stop.clone(),
    ));

    let duration = match (args.duration, args.objects) {
        (None, None) => Some(DEFAULT_DURATION),
        (d, _) => d,
    };
    let run_limit = |count: u64| match duration {
        Some(d) => Limit::Time(d),
        None => Limit::Count(count),
    };
    let objects = args.objects.unwrap_or(0);

    // Prepare the objects the workload reads, lists or deletes.
    let prepare = match args.op {
        Workload::Put => None,
        Workload::Get | Workload::Mixed | Workload::List => Some(Limit::Count(
            args.objects.unwrap_or_else(|| args.default_prepared()),
        )),
        Workload::Delete => Some(match args.objects {
            Some(n) => Limit::Count(n),
            None => Limit::Time(duration.unwrap_or(DEFAULT_DURATION)),
        }),
    };
    let mut prepared = Vec::new();
    if let Some(limit) = prepare {
        let r = run_phase(
            &ctx,
            Phase::Put,
            limit,
            Arc::default(),
            Vec::new(),
            "prepare",
        )
        .await
        .map_err(Error::Bench)?;
        prepared = r.created;
        let errors = r.recorder.total().errors;
        if errors > 0 {
            note(&format!(
                "{errors} PUTs failed while preparing; first error: {}",
                r.recorder.first_error.as_deref().unwrap_or("unknown")
            ));
        }
        if prepared.is_empty() && !stop.load(Ordering::Relaxed) {
            return Err(Error::Bench("could not prepare any object".to_owned()));
        }
    }
    let prepared_count = prepared.len() as u64;
    let prepared = Arc::new(prepared);

    let label = format!("{:?}", args.op).to_lowercase();
    let (phase, limit, queue) = match args.op {
        Workload::Put => (Phase::Put, run_limit(objects), Vec::new()),
        Workload::Get => (Phase::Get, run_limit(objects), Vec::new()),
        Workload::Mixed => (Phase::Mixed, run_limit(objects), Vec::new()),
        Workload::List => (Phase::List, run_limit(objects), Vec::new()),
        Workload::Delete => (
            Phase::Delete,
            run_limit(prepared_count),
            prepared.as_ref().clone(),
        ),
    };
    let result = if stop.load(Ordering::Relaxed) {
        None
    } else {
        Some(
            run_phase(&ctx, phase, limit, prepared.clone(), queue, &label)
                .await
                .map_err(Error::Bench)?,
        )
    };

    let info = RunInfo {
        endpoint: &args.endpoint,
        bucket: &args.bucket,
        op: args.op,
        size: args.size,
        concurrency: args.concurrency,
        prepared: prepared_count,
    };
    let (report, mut leftovers) = match result {
        Some(r) => {
            let report = Report::new(&info, &r.recorder, r.elapsed.as_secs_f64());
            let mut left = r.created;
            left.extend(r.untouched);
            (report, left)
        }
        None => (Report::new(&info, &Default::default(), 0.0), Vec::new()),
    };
    if phase != Phase::Delete {
        leftovers.extend(prepared.iter().cloned());
    }

    if args.keep {
        note(&format!(
            "kept {} objects in bucket {}",
            leftovers.len(),
            args.bucket
        ));
    } else {
        clean_up(&ctx, leftovers, created_bucket).await;
    }
    Ok(report)
}

/// Deletes what the run left, then the bucket if the run created it. Failures are reported,
/// not fatal: the figures are already measured.
async fn clean_up(ctx: &Arc<Ctx>, keys: Vec<String>, delete_bucket: bool) {
    // The clean-up runs even after Ctrl-C.
    ctx.stop.store(false, Ordering::Relaxed);
    if !keys.is_empty() {
        let count = keys.len() as u64;
        match run_phase(
            ctx,
            Phase::Delete,
            Limit::Count(count),
            Arc::default(),
            keys,
            "cleanup",
        )
        .await
        {
            Ok(r) => {
                let errors = r.recorder.total().errors;
                if errors > 0 {
                    note(&format!(
                        "clean-up: {errors} DELETEs failed; first error: {}",
                        r.recorder.first_error.as_deref().unwrap_or("unknown")
                    ));
                }
            }
            Err(e) => note(&format!("clean-up: {e}")),
        }
    }
    if delete_bucket && let Err(f) = ctx.client.delete_bucket(&ctx.bucket).await {
        note(&format!(
            "clean-up: bucket {} not deleted: {}",
            ctx.bucket, f.message
        ));
    }
}
