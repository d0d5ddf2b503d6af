//! The state earlier runs left in the output, as the tables a dated run continues from:
//! `prior_sessions` (the sessions table as it is), `prior_session_bounds` (the columns of it
//! the models need, in fixed types, bots' sessions included), `prior_bot_sessions` and
//! `prior_users` (the users table). A full run starts
//! from nothing, so it gets them empty, as does a dated run on a new output.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::datatypes::{DataType, SchemaRef};
use chrono::NaiveDate;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig};
use datafusion::prelude::*;

use crate::error::UserError;
use crate::models;
use crate::scope::Window;
use crate::scratch;
use crate::storage::OutputRoot;
use crate::write::PARTITION_COLUMN;

/// The days the output's sessions table has.
pub async fn existing_days(root: &OutputRoot) -> Result<BTreeSet<NaiveDate>> {
    let (partitions, _) = root.partitions(models::SESSIONS_TABLE).await?;
    Ok(partitions
        .iter()
        .filter_map(|p| p.strip_prefix("dt="))
        .filter_map(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
        .collect())
}

/// Registers `prior_session_bounds` and `prior_users`, and `prior_sessions` when there are
/// earlier sessions to continue from. Returns whether there are.
pub async fn register(ctx: &SessionContext, root: &OutputRoot, window: &Window) -> Result<bool> {
    let dated = window.days.is_some();
    let has_sessions = dated && !existing_days(root).await?.is_empty();
    if has_sessions {
        // bots' sessions are part of a user's history too: a bot's open session continues
        let mut bounds = Vec::new();
        for (table, prior) in [
            (models::SESSIONS_TABLE, models::PRIOR_SESSIONS),
            (models::BOT_SESSIONS_TABLE, models::PRIOR_BOT_SESSIONS),
        ] {
            if root.parquet_files(table).await? == 0 {
                continue;
            }
            ctx.register_table(prior, listing(ctx, root, table, true).await?)?;
            bounds.push(conform(
                ctx.table(prior).await?,
                &models::prior_session_bounds_schema(),
                root,
                table,
            )?);
        }
        let mut union = bounds.remove(0);
        for frame in bounds {
            union = union.union(frame)?;
        }
        ctx.register_table(models::PRIOR_SESSION_BOUNDS, union.into_view())?;
    } else {
        scratch::register_empty(
            ctx,
            models::PRIOR_SESSION_BOUNDS,
            models::prior_session_bounds_schema(),
        )?;
    }
    let users_schema = models::users_schema();
    if has_sessions && root.parquet_files(models::USERS_TABLE).await? > 0 {
        let users = listing(ctx, root, models::USERS_TABLE, false).await?;
        let users = conform(
            ctx.read_table(users)?,
            &users_schema,
            root,
            models::USERS_TABLE,
        )?;
        ctx.register_table(models::PRIOR_USERS, users.into_view())?;
    } else {
        scratch::register_empty(ctx, models::PRIOR_USERS, users_schema)?;
    }
    Ok(has_sessions)
}

/// With no earlier sessions of a kind, `prior_sessions` or `prior_bot_sessions` is empty,
/// with the columns this run writes.
pub fn register_if_missing(ctx: &SessionContext, prior: &str, schema: SchemaRef) -> Result<()> {
    if !ctx.table_exist(prior)? {
        scratch::register_empty(ctx, prior, schema)?;
    }
    Ok(())
}

/// A table of the output, read as the engine reads any Parquet folder.
async fn listing(
    ctx: &SessionContext,
    root: &OutputRoot,
    table: &str,
    partitioned: bool,
) -> Result<Arc<ListingTable>> {
    // the session's Parquet options: strings stay Utf8, as the models expect
    let format = ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
    let mut options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
    if partitioned {
        options =
            options.with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Utf8)]);
    }
    let config = ListingTableConfig::new(root.url_of(table)?)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await
        .with_context(|| format!("cannot read the {table} table of {}", root.display()))?;
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The columns of `schema`, in its types; a missing column means the table was written by
/// another version, which a full run rewrites.
fn conform(
    frame: DataFrame,
    schema: &SchemaRef,
    root: &OutputRoot,
    table: &str,
) -> Result<DataFrame> {
    let mut exprs = Vec::new();
    for field in schema.fields() {
        if frame
            .schema()
            .field_with_unqualified_name(field.name())
            .is_err()
        {
            return Err(UserError::input(
                format!("{}/{table}", root.display()),
                format!(
                    "the table has no column {:?}: it was written by another version of \
                     sessionize; run once without --date to rebuild the output",
                    field.name()
                ),
            )
            .into());
        }
        exprs.push(cast(ident(field.name()), field.data_type().clone()).alias(field.name()));
    }
    Ok(frame.select(exprs)?)
}
