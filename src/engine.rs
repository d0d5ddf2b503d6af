//! The DataFusion session every run uses: our defaults, then any `DATAFUSION_*` environment
//! variable on top (`DATAFUSION_EXECUTION_TARGET_PARTITIONS=4`, …), as datafusion-cli does,
//! and our one function the engine does not have (`session_index`).

use anyhow::{Context, Result};
use datafusion::config::ConfigOptions;
use datafusion::prelude::{SessionConfig, SessionContext};

pub fn context() -> Result<SessionContext> {
    context_with(|_| {})
}

/// The session for ad hoc SQL: the same, and the position of every name kept, so an error
/// in a user's query can point at it.
pub fn query_context() -> Result<SessionContext> {
    context_with(|options| options.sql_parser.collect_spans = true)
}

fn context_with(adjust: impl FnOnce(&mut ConfigOptions)) -> Result<SessionContext> {
    let mut options = ConfigOptions::new();
    adjust(&mut options);
    // Utf8View columns carried through the big sort make every later window and aggregate
    // several times slower on this workload (apache/datafusion PRs 14823 and 21325).
    options.execution.parquet.schema_force_view_types = false;
    options.sql_parser.map_string_types_to_utf8view = false;
    for entry in ConfigOptions::new().entries() {
        let variable = entry.key.to_uppercase().replace('.', "_");
        if let Some(value) = std::env::var_os(&variable) {
            options
                .set(&entry.key, &value.to_string_lossy())
                .with_context(|| format!("environment variable {variable}"))?;
        }
    }
    let ctx = SessionContext::new_with_config(SessionConfig::from(options));
    ctx.register_udwf(crate::session_window::udwf());
    Ok(ctx)
}
