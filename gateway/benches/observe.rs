//! What recording one request costs the gateway (`observe::Observer::record`, called once per
//! request when its answer's body is dropped): the metrics alone (access log off), and with
//! the access log's line built and queued to its writer (a file in the temp directory).
//!
//! Run: `cargo bench -p gateway --bench observe -- --warm-up-time 1 --measurement-time 3`

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use gateway::Config;
use gateway::observe::{Finished, Note, Observer};

fn record(c: &mut Criterion) {
    let method = http::Method::GET;
    let note = Note {
        operation: "GetObject",
        account: Some("dev".into()),
        bucket: Some("spread-bench".into()),
        key: Some("bench/3/1234".into()),
    };
    let finished = |started| Finished {
        api: "s3",
        id: Some("3f1a9c2e00000000002a"),
        method: &method,
        remote: IpAddr::from([127, 0, 0, 1]),
        note: &note,
        status: 200,
        bytes_in: 0,
        bytes_out: 4096,
        elapsed: Duration::from_micros(900),
        started,
    };
    let off = Observer::new(&Config::default()).expect("observer");
    c.bench_function("record/access_log_off", |b| {
        b.iter(|| {
            off.started("s3");
            off.record(&finished(None));
        })
    });
    let path = std::env::temp_dir().join(format!("spread-bench-access-{}.log", std::process::id()));
    let config = Config {
        access_log: path.display().to_string(),
        ..Config::default()
    };
    let on = Observer::new(&config).expect("observer");
    c.bench_function("record/access_log_on", |b| {
        b.iter(|| {
            on.started("s3");
            on.record(&finished(Some(SystemTime::now())));
        })
    });
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, record);
criterion_main!(benches);
