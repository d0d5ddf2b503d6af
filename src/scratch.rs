//! The tables a run builds for itself on the way to its outputs: a model that several later
//! models read (computed once, not once per reader) and the small lookup tables made in
//! Rust (event-name lists, channel rules, parsed user agents).
//!
//! A model is materialised as Parquet in a temporary directory, not held in memory: at a
//! hundred million events the sessions alone outgrow any memory limit, and a file is what an
//! engine with separate executors could also read. The directory is removed when the run
//! ends, however it ends.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::config::TableParquetOptions;
use datafusion::datasource::MemTable;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::prelude::{DataFrame, SessionContext};

use crate::write;

pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A new, empty scratch directory in the run's temporary directory (or the system's).
    pub fn create() -> Result<Self> {
        let parent = crate::engine::temp_dir();
        let dir = tempfile::Builder::new()
            .prefix("scratch-")
            .tempdir_in(&parent)
            .with_context(|| format!("creating a scratch directory in {}", parent.display()))?;
        Ok(Scratch { dir })
    }

    /// Computes `frame` once into the scratch directory and registers the result as
    /// `name`, in place of whatever had that name (the model's view, typically).
    pub async fn materialize(
        &self,
        ctx: &SessionContext,
        name: &str,
        frame: DataFrame,
    ) -> Result<()> {
        crate::write::explain_if_asked(name, &frame).await?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating scratch directory {}", dir.display()))?;
        let url = format!("{}/", dir.display());
        write::copy_to_parquet(frame, &url, Vec::new(), scratch_parquet_options()?)
            .await
            .with_context(|| format!("computing {name}"))?;
        ctx.deregister_table(name)?;
        ctx.register_table(
            name,
            write::listing_table(ListingTableUrl::parse(&url)?, &schema, false)?,
        )?;
        Ok(())
    }

    /// Registers a small table built in Rust.
    pub fn register_batch(
        &self,
        ctx: &SessionContext,
        name: &str,
        batch: RecordBatch,
    ) -> Result<()> {
        ctx.deregister_table(name)?;
        ctx.register_batch(name, batch)?;
        Ok(())
    }

    /// Registers `name` as a table of `schema` with no rows.
    pub fn register_empty(
        &self,
        ctx: &SessionContext,
        name: &str,
        schema: SchemaRef,
    ) -> Result<()> {
        ctx.deregister_table(name)?;
        ctx.register_table(name, Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
        Ok(())
    }
}

/// Written once and read back once or twice, then thrown away: fast compression only.
fn scratch_parquet_options() -> Result<TableParquetOptions> {
    let mut options = TableParquetOptions::default();
    options.global.compression = Some("snappy".into());
    write::bound_row_groups(&mut options)?;
    Ok(options)
}
