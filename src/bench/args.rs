//! Flags of `spread bench` (each also read from a `SPREAD_BENCH_*` environment variable).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::parse;
use crate::cli::{DEV_ACCESS_KEY, DEV_SECRET_KEY};

/// The workload `spread bench` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Every worker PUTs distinct keys `bench/<worker>/<seq>`.
    Put,
    /// GETs random objects of a prepared set, reading and discarding the bodies.
    Get,
    /// 60% GET (prepared set), 30% PUT (new keys), 10% DELETE (of keys this run PUT).
    Mixed,
    /// ListObjectsV2 pages (1000 keys each) over a prepared set.
    List,
    /// DELETEs the objects of a prepared set.
    Delete,
}

/// Flags of `spread bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// S3 endpoint (http://host:port, path-style requests).
    #[arg(
        long,
        env = "SPREAD_BENCH_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint: String,
    /// Access key used to sign requests.
    #[arg(long, env = "SPREAD_BENCH_ACCESS_KEY", default_value = DEV_ACCESS_KEY)]
    pub access_key: String,
    /// Secret key used to sign requests.
    #[arg(long, env = "SPREAD_BENCH_SECRET_KEY", default_value = DEV_SECRET_KEY)]
    pub secret_key: String,
    /// SigV4 signing region.
    #[arg(long, env = "SPREAD_BENCH_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Bucket to use; created if missing.
    #[arg(long, env = "SPREAD_BENCH_BUCKET", default_value = "spread-bench")]
    pub bucket: String,
    /// Workload to run.
    #[arg(long, env = "SPREAD_BENCH_OP", value_enum)]
    pub op: Workload,
    /// Object size: bytes or with a unit (4KiB, 4MiB, 1GiB, 5MB).
    #[arg(long, env = "SPREAD_BENCH_SIZE", default_value = "4KiB",
          value_parser = parse::parse_size)]
    pub size: u64,
    /// Number of concurrent workers (each with its own connection).
    #[arg(long, env = "SPREAD_BENCH_CONCURRENCY", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Run for this long (30s, 2m, 500ms). Default 30s when --objects is not given either.
    #[arg(long, env = "SPREAD_BENCH_DURATION", value_parser = parse::positive_duration)]
    pub duration: Option<Duration>,
    /// Number of operations (put) or size of the prepared set (get, mixed, list, delete);
    /// without --duration, get/mixed/list also stop after this many operations.
    #[arg(long, env = "SPREAD_BENCH_OBJECTS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub objects: Option<u64>,
    /// Also write the final report as JSON to this file.
    #[arg(long, env = "SPREAD_BENCH_JSON")]
    pub json: Option<PathBuf>,
    /// Leave the objects (and the bucket) in place instead of deleting them at the end.
    #[arg(long, env = "SPREAD_BENCH_KEEP")]
    pub keep: bool,
    /// Longest time one request (including its whole body) may take.
    #[arg(long, env = "SPREAD_BENCH_TIMEOUT", default_value = "10m",
          value_parser = parse::positive_duration)]
    pub timeout: Duration,
}

/// Default run time when neither --duration nor --objects is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);

impl BenchArgs {
    /// How many objects to prepare for get, mixed and list when --objects is not given:
    /// 1000 small objects, or as many as fit in 256 MiB (at least 2 per worker).
    pub fn default_prepared(&self) -> u64 {
        let by_volume = (256u64 << 20) / self.size.max(1);
        let floor = u64::from(self.concurrency) * 2;
        by_volume.clamp(floor.min(1000), 1000).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        let mut all = vec!["spread", "bench"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all)?.command {
            Command::Bench(b) => Ok(b),
            other => panic!("not bench: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let b = parse(&["--op", "put"]).unwrap();
        assert_eq!(b.endpoint, "http://127.0.0.1:9000");
        assert_eq!(b.bucket, "spread-bench");
        assert_eq!(b.region, "us-east-1");
        assert_eq!(b.size, 4096);
        assert_eq!(b.concurrency, 8);
        assert_eq!(b.duration, None);
        assert_eq!(b.objects, None);
        assert!(!b.keep);
        assert_eq!(b.timeout, Duration::from_secs(600));
    }

    #[test]
    fn every_flag() {
        let b = parse(&[
            "--endpoint",
            "http://127.0.0.1:1234",
            "--access-key",
            "AK",
            "--secret-key",
            "SK",
            "--region",
            "eu-west-1",
            "--bucket",
            "b1",
            "--op",
            "mixed",
            "--size",
            "4MiB",
            "--concurrency",
            "16",
            "--duration",
            "10s",
            "--objects",
            "50",
            "--json",
            "/tmp/r.json",
            "--keep",
        ])
        .unwrap();
        assert_eq!(b.op, Workload::Mixed);
        assert_eq!(b.size, 4 << 20);
        assert_eq!(b.concurrency, 16);
        assert_eq!(b.duration, Some(Duration::from_secs(10)));
        assert_eq!(b.objects, Some(50));
        assert_eq!(b.json, Some(PathBuf::from("/tmp/r.json")));
        assert!(b.keep);
        assert_eq!(b.access_key, "AK");
        assert_eq!(b.region, "eu-west-1");
    }

    #[test]
    fn refuses_bad_values() {
        assert!(parse(&[]).is_err(), "--op is required");
        assert!(parse(&["--op", "copy"]).is_err());
        assert!(parse(&["--op", "put", "--size", "4XB"]).is_err());
        assert!(parse(&["--op", "put", "--concurrency", "0"]).is_err());
        assert!(parse(&["--op", "put", "--duration", "0s"]).is_err());
        assert!(parse(&["--op", "put", "--objects", "0"]).is_err());
    }

    #[test]
    fn prepared_set_size() {
        let mut b = parse(&["--op", "get"]).unwrap();
        assert_eq!(b.default_prepared(), 1000);
        b.size = 4 << 20;
        assert_eq!(b.default_prepared(), 64);
        b.size = 1 << 30;
        assert_eq!(b.default_prepared(), 16, "two per worker at least");
    }
}
