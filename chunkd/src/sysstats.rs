//! Host load figures for heartbeats, from `/proc/stat` deltas.
//!
//! `cpu_idle` is the idle share of CPU time since the previous sample. `io_idle` is an
//! estimate: 1 − the iowait share of CPU time over the same period (not a per-device
//! utilisation). Where `/proc/stat` is unreadable both are 1.0.

#[derive(Debug, Clone, Copy, Default)]
struct CpuTimes {
    idle: u64,
    iowait: u64,
    total: u64,
}

fn read_cpu_times() -> Option<CpuTimes> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_line(text.lines().next()?)
}

fn parse_cpu_line(line: &str) -> Option<CpuTimes> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
    if values.len() < 5 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest fields are included in user/nice).
    let total = values.iter().take(8).sum();
    Some(CpuTimes {
        idle: values[3],
        iowait: values[4],
        total,
    })
}

/// Keeps the previous `/proc/stat` sample to compute deltas.
#[derive(Debug, Default)]
pub struct LoadSampler {
    prev: Option<CpuTimes>,
}

impl LoadSampler {
    pub fn new() -> LoadSampler {
        LoadSampler {
            prev: read_cpu_times(),
        }
    }

    /// `(cpu_idle, io_idle)`, each in 0.0..=1.0, since the previous call (or creation).
    pub fn sample(&mut self) -> (f64, f64) {
        let now = read_cpu_times();
        let result = match (self.prev, now) {
            (Some(a), Some(b)) if b.total > a.total => {
                let dt = (b.total - a.total) as f64;
                let idle = b.idle.saturating_sub(a.idle) as f64 / dt;
                let iowait = b.iowait.saturating_sub(a.iowait) as f64 / dt;
                (idle.clamp(0.0, 1.0), (1.0 - iowait).clamp(0.0, 1.0))
            }
            _ => (1.0, 1.0),
        };
        if now.is_some() {
            self.prev = now;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_samples() {
        let t = parse_cpu_line("cpu  10 0 10 70 10 0 0 0 0 0").unwrap();
        assert_eq!((t.idle, t.iowait, t.total), (70, 10, 100));
        assert!(parse_cpu_line("cpu0 1 2 3 4 5").is_none());
        let mut s = LoadSampler::new();
        let (c, i) = s.sample();
        assert!((0.0..=1.0).contains(&c) && (0.0..=1.0).contains(&i));
    }
}
