//! Plain-text tables for admin output: left-aligned columns separated by two spaces.

use std::fmt;

/// A table with a header row.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<const N: usize>(header: [&str; N]) -> Table {
        Table {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }

    /// Appends a row.
    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(cells.into());
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[c].saturating_sub(cell.chars().count());
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// A count with its thousands grouped ("12,000").
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A duration in milliseconds as "1.5s ago", "3m 2s ago", "2h 5m ago".
pub fn ago(ms: i64) -> String {
    if ms < 0 {
        return "just now".to_string();
    }
    format!("{} ago", duration(ms))
}

/// A time `ms` milliseconds from now as "in 1.5s", "in 3m 2s" ("now" when past).
pub fn after(ms: i64) -> String {
    if ms <= 0 {
        return "now".to_string();
    }
    format!("in {}", duration(ms))
}

/// A positive duration in milliseconds as "1.5s", "3m 2s", "2h 5m", "1d 3h".
pub fn duration(ms: i64) -> String {
    let secs = ms / 1000;
    if secs < 60 {
        format!("{}.{}s", secs, (ms % 1000) / 100)
    } else if secs < 3600 {
        format!("{}m {}s", secs / 60, secs % 60)
    } else if secs < 86_400 {
        format!("{}h {}m", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_columns() {
        let mut t = Table::new(["NAME", "N"]);
        t.row(["alpha".to_string(), "1".to_string()]);
        t.row(["b".to_string(), "22".to_string()]);
        assert_eq!(t.to_string(), "NAME   N\nalpha  1\nb      22\n");
    }

    #[test]
    fn durations() {
        assert_eq!(ago(1500), "1.5s ago");
        assert_eq!(ago(62_000), "1m 2s ago");
        assert_eq!(ago(7_500_000), "2h 5m ago");
        assert_eq!(ago(90_000_000), "1d 1h ago");
        assert_eq!(ago(-5), "just now");
        assert_eq!(after(599_000), "in 9m 59s");
        assert_eq!(after(0), "now");
    }
}
