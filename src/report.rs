//! What a run did, in numbers: printed as a summary at the end of every run.

use std::fmt;

use serde::Serialize;

use crate::events::InputFile;
use crate::write::TableWrite;

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub input_files: Vec<InputFile>,
    pub rows_read: u64,
    /// Copies of an event already counted (same event_id, or identical rows without one).
    pub duplicates: u64,
    /// Rows that cannot be sessionized, by reason (NULL user_id, unparsable event_time, …).
    pub rejected: Vec<(String, u64)>,
    pub events_sessionized: u64,
    pub sessions: u64,
    pub tables: Vec<TableWrite>,
    pub seconds: f64,
}

impl RunSummary {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes: u64 = self.input_files.iter().map(|file| file.bytes).sum();
        writeln!(f, "run {}", self.run_id)?;
        writeln!(
            f,
            "  input: {} file(s), {:.1} MB",
            self.input_files.len(),
            bytes as f64 / 1e6
        )?;
        writeln!(f, "  rows read:            {:>12}", self.rows_read)?;
        writeln!(f, "  duplicates removed:   {:>12}", self.duplicates)?;
        writeln!(f, "  not sessionizable:    {:>12}", self.rejected_total())?;
        for (reason, rows) in &self.rejected {
            writeln!(f, "    {reason:<22}{rows:>10}")?;
        }
        writeln!(f, "  events sessionized:   {:>12}", self.events_sessionized)?;
        writeln!(f, "  sessions:             {:>12}", self.sessions)?;
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
        write!(f, "  seconds: {:.2}", self.seconds)
    }
}
