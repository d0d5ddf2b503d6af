//! Query results as the user asked for them: an aligned table for a person, CSV for a
//! pipe, JSON (one object per line) for scripts, Parquet for another tool.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::UserError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
}

impl Format {
    /// The format asked for, else the one `--out`'s extension names, else a table on a
    /// terminal and CSV in a pipe or a file.
    pub fn choose(asked: Option<Format>, out: Option<&Path>) -> Format {
        if let Some(format) = asked {
            return format;
        }
        match out {
            Some(path) => match path.extension().and_then(|e| e.to_str()) {
                Some("parquet") => Format::Parquet,
                Some("json" | "jsonl" | "ndjson") => Format::Json,
                Some("txt") => Format::Table,
                _ => Format::Csv,
            },
            None if std::io::stdout().is_terminal() => Format::Table,
            None => Format::Csv,
        }
    }
}

/// One statement's result.
pub struct Results {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Results {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Writes every result to `out` (a file) or stdout.
pub fn write_all(results: &[Results], format: Format, out: Option<&Path>) -> Result<()> {
    if format == Format::Parquet && results.len() > 1 {
        return Err(UserError::input(
            "--format parquet",
            format!(
                "{} statements return rows; a Parquet file holds one result",
                results.len()
            ),
        )
        .into());
    }
    if format == Format::Parquet && out.is_none() && std::io::stdout().is_terminal() {
        return Err(UserError::input(
            "--format parquet",
            "Parquet is not for a terminal: pass --out FILE, or redirect stdout",
        )
        .into());
    }
    let mut sink: Box<dyn Write + Send> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| UserError::input(path.display().to_string(), e.to_string()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    for (i, result) in results.iter().enumerate() {
        if i > 0 && matches!(format, Format::Table | Format::Csv) {
            writeln!(sink)?;
        }
        write_one(result, format, &mut sink)?;
    }
    sink.flush().context("cannot write the results")?;
    Ok(())
}

fn write_one(result: &Results, format: Format, sink: &mut Box<dyn Write + Send>) -> Result<()> {
    match format {
        Format::Table => {
            let table = arrow::util::pretty::pretty_format_batches_with_schema(
                result.schema.clone(),
                &result.batches,
            )?;
            let rows = result.rows();
            writeln!(sink, "{table}")?;
            writeln!(sink, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut writer = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *sink);
            // an empty batch first, so a result without rows still has its header
            writer.write(&RecordBatch::new_empty(result.schema.clone()))?;
            for batch in &result.batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = arrow_json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow_json::writer::LineDelimited>(&mut *sink);
            for batch in &result.batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        Format::Parquet => {
            let properties = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build();
            let mut writer = parquet::arrow::ArrowWriter::try_new(
                &mut *sink,
                result.schema.clone(),
                Some(properties),
            )?;
            for batch in &result.batches {
                writer.write(batch)?;
            }
            writer.close()?;
        }
    }
    Ok(())
}
