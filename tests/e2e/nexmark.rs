//! `nexmark --query qN --events N [--output DIR]`: output rows and the report line.

use crate::support::{output_lines, run_err, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_nexmark");

#[test]
fn q2_selects_bids_on_every_123rd_auction_and_reports_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let mut previous: Option<Vec<String>> = None;
    for p in ["1", "2"] {
        let out = dir.path().join(format!("q2-{p}"));
        let run = run_ok(BIN, &["--query", "q2", "--events", "200000", "--output", out.to_str().unwrap(), "-p", p]);
        let stdout = String::from_utf8(run.stdout).unwrap();
        let last = stdout.lines().last().expect("a report line");
        let fields: Vec<(&str, &str)> = last.split(' ').filter_map(|f| f.split_once('=')).collect();
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["query", "events", "parallelism", "elapsed_ms", "events_per_sec"], "{last}");
        assert_eq!(&fields[..3], &[("query", "q2"), ("events", "200000"), ("parallelism", p)], "{last}");
        assert!(fields[3].1.parse::<u64>().is_ok() && fields[4].1.parse::<u64>().unwrap() > 0, "{last}");
        let rows = output_lines(&dir.path().join(format!("q2-{p}")));
        assert!(rows.len() > 100, "{} rows", rows.len());
        for row in &rows {
            // Rows print as Flink's changelog rows: `+I[auction, price]`.
            let auction: i64 = row
                .strip_prefix("+I[")
                .and_then(|r| r.split(',').next())
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("row {row}"));
            assert_eq!(auction % 123, 0, "{row}");
        }
        // The same events at any parallelism give the same rows.
        if let Some(prev) = &previous {
            assert_eq!(prev, &rows);
        }
        previous = Some(rows);
    }
}

#[test]
fn an_unknown_query_exits_with_code_2_listing_the_valid_ones() {
    let err = run_err(BIN, &["--query", "q6", "--events", "10"], 2);
    assert!(err.contains("q0") && err.contains("q8"), "{err}");
}
