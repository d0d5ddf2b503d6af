//! What a run did: the summary printed at the end of every run, and the run report
//! `<output>/_runs/<run_id>.json` written for every run, failed ones included.

use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

use crate::config::RunSettings;
use crate::events::{BadFile, InputFile};
use crate::storage::OutputRoot;
use crate::write::TableWrite;

/// The row counts of a run. Every input row is sessionized, a duplicate, or rejected:
/// `rows_read = events_sessionized + duplicates + rejected`, checked at the end of every run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RowCounts {
    pub rows_read: u64,
    /// Copies of an event already counted (same event_id and payload, or identical rows).
    pub duplicates: u64,
    /// Rows that cannot be sessionized, by reason; they are in the `rejects` table.
    pub rejected: BTreeMap<String, u64>,
    pub events_sessionized: u64,
    pub sessions: u64,
    pub late_events: u64,
}

impl RowCounts {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// The row invariant; an error here is a bug, never the user's input.
    pub fn check(&self) -> Result<()> {
        let accounted = self.events_sessionized + self.duplicates + self.rejected_total();
        anyhow::ensure!(
            accounted == self.rows_read,
            "internal error: {} rows read but {} accounted for ({} sessionized + {} duplicates + {} rejected); \
             the previous output was left in place",
            self.rows_read,
            accounted,
            self.events_sessionized,
            self.duplicates,
            self.rejected_total()
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Finished, but some input files could not be read and were left out (exit code 3).
    OkWithSkippedFiles,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub seconds: f64,
    pub status: Status,
    pub exit_code: i32,
    /// The error, for a failed run.
    pub error: Option<String>,
    pub settings: RunSettings,
    pub input_files: Vec<InputFile>,
    pub skipped_files: Vec<BadFile>,
    pub counts: RowCounts,
    pub tables: Vec<TableWrite>,
    /// `<table>/dt=YYYY-MM-DD` of every partition this run replaced or created.
    pub partitions_replaced: Vec<String>,
    pub notes: Vec<String>,
}

impl RunReport {
    /// Writes `<output>/_runs/<run_id>.json`, whole or not at all.
    pub async fn write(&self, output: &OutputRoot) -> Result<()> {
        output
            .put(
                &format!("_runs/{}.json", self.run_id),
                serde_json::to_vec_pretty(self)?,
            )
            .await
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes: u64 = self.input_files.iter().map(|file| file.bytes).sum();
        let c = &self.counts;
        writeln!(f, "run {}", self.run_id)?;
        writeln!(
            f,
            "  input: {} file(s), {:.1} MB",
            self.input_files.len(),
            bytes as f64 / 1e6
        )?;
        for bad in &self.skipped_files {
            writeln!(f, "  skipped {}: {}", bad.path, bad.reason)?;
        }
        writeln!(f, "  rows read:            {:>12}", c.rows_read)?;
        writeln!(f, "  duplicates removed:   {:>12}", c.duplicates)?;
        writeln!(f, "  not sessionizable:    {:>12}", c.rejected_total())?;
        for (reason, rows) in &c.rejected {
            writeln!(f, "    {reason}: {rows}")?;
        }
        writeln!(f, "  events sessionized:   {:>12}", c.events_sessionized)?;
        writeln!(f, "  sessions:             {:>12}", c.sessions)?;
        writeln!(f, "  late events:          {:>12}", c.late_events)?;
        writeln!(f, "  tables written:")?;
        for table in &self.tables {
            writeln!(
                f,
                "    {:<26}{:>10} rows  {:>4} file(s)  {:>4} day(s)",
                table.table,
                table.rows,
                table.files,
                table.partitions.len()
            )?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        write!(f, "  seconds: {:.2}", self.seconds)
    }
}
