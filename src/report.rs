//! What a run did: the summary printed at the end of every run, and the run report
//! `<output>/_runs/<run_id>.json` written for every run, failed ones included.

use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

use crate::config::RunSettings;
use crate::events::{BadFile, InputFile};
use crate::scope::DayRange;
use crate::storage::OutputRoot;
use crate::write::TableWrite;

/// The row counts of a run. Every input row is sessionized, a bot's event, a duplicate,
/// rejected, or (in a dated run) read for another day's sake: `rows_read = events_sessionized
/// + bot_events + duplicates + rejected + rows_of_other_days`, checked at the end of every run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RowCounts {
    pub rows_read: u64,
    /// Copies of an event already counted (same event_id and payload, or identical rows).
    pub duplicates: u64,
    /// Rows that cannot be sessionized, by reason; they are in the `rejects` table.
    pub rejected: BTreeMap<String, u64>,
    pub events_sessionized: u64,
    pub sessions: u64,
    /// Sessions of known bots and crawlers, and their events: in `bot_sessions`, not in
    /// `sessions` (zero with `include_bots`).
    pub bot_sessions: u64,
    pub bot_events: u64,
    pub late_events: u64,
    /// Rows a dated run read around its days that belong to other days' runs.
    pub rows_of_other_days: u64,
}

impl RowCounts {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// The row invariant; an error here is a bug, never the user's input.
    pub fn check(&self) -> Result<()> {
        let accounted = self.events_sessionized
            + self.bot_events
            + self.duplicates
            + self.rejected_total()
            + self.rows_of_other_days;
        anyhow::ensure!(
            accounted == self.rows_read,
            "internal error: {} rows read but {} accounted for ({} sessionized + {} of bots + {} duplicates \
             + {} rejected + {} of other days); the previous output was left in place",
            self.rows_read,
            accounted,
            self.events_sessionized,
            self.bot_events,
            self.duplicates,
            self.rejected_total(),
            self.rows_of_other_days
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
    /// A dated run's days as asked for, and as computed (see the notes for why they grew).
    pub requested_days: Option<DayRange>,
    pub days: Option<DayRange>,
    pub input_files: Vec<InputFile>,
    pub skipped_files: Vec<BadFile>,
    pub counts: RowCounts,
    pub tables: Vec<TableWrite>,
    /// `<table>/dt=YYYY-MM-DD` of every partition this run replaced or created.
    pub partitions_replaced: Vec<String>,
    pub memory: MemoryUse,
    pub notes: Vec<String>,
}

/// What the run used of the machine's memory, and what it spilled to disk for lack of it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryUse {
    /// `--memory-limit`, if given.
    pub limit_bytes: Option<u64>,
    /// The process's peak resident memory.
    pub peak_bytes: u64,
    /// Bytes the engine's sorts, aggregates and joins wrote to spill files.
    pub spilled_bytes: u64,
}

impl MemoryUse {
    pub fn measure(limit_bytes: Option<u64>) -> Self {
        MemoryUse {
            limit_bytes,
            peak_bytes: crate::engine::peak_memory_bytes(),
            spilled_bytes: crate::engine::spilled_bytes(),
        }
    }
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
        if let Some(days) = &self.days {
            writeln!(f, "  days: {} to {}", days.first, days.last)?;
        }
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
        writeln!(
            f,
            "  bot sessions:         {:>12} ({} events)",
            c.bot_sessions, c.bot_events
        )?;
        writeln!(f, "  late events:          {:>12}", c.late_events)?;
        if c.rows_of_other_days > 0 {
            writeln!(f, "  rows of other days:   {:>12}", c.rows_of_other_days)?;
        }
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
        let m = &self.memory;
        write!(f, "  memory: peak {:.2} GB", m.peak_bytes as f64 / 1e9)?;
        if let Some(limit) = m.limit_bytes {
            write!(f, " (limit {:.2} GB)", limit as f64 / 1e9)?;
        }
        writeln!(f, ", spilled {:.2} GB", m.spilled_bytes as f64 / 1e9)?;
        write!(f, "  seconds: {:.2}", self.seconds)
    }
}

/// What `run --dry-run` found: what a run would read and replace.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub requested: Option<DayRange>,
    pub days: Option<DayRange>,
    pub notes: Vec<String>,
    pub input_files: Vec<String>,
    pub partitions: Vec<String>,
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "dry run: nothing is written")?;
        match (&self.requested, &self.days) {
            (Some(asked), Some(days)) => {
                writeln!(f, "  days asked for: {} to {}", asked.first, asked.last)?;
                writeln!(f, "  days computed:  {} to {}", days.first, days.last)?;
            }
            _ => writeln!(f, "  days: all the input has")?,
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        writeln!(f, "  input files read: {}", self.input_files.len())?;
        for file in &self.input_files {
            writeln!(f, "    {file}")?;
        }
        writeln!(f, "  partitions replaced: {}", self.partitions.len())?;
        for partition in &self.partitions {
            writeln!(f, "    {partition}")?;
        }
        Ok(())
    }
}
