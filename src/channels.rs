//! The data behind channel grouping, as the small tables `sql/session_sources.sql` and
//! `sql/traffic_channels.sql` join with: GA4's source categories (built in, or the user's
//! CSV), the source aliases, and the user's own rules. The rules themselves live in SQL.

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;

use crate::config::ChannelSettings;
use crate::error::UserError;
use crate::scratch::Scratch;

const GA4_SOURCE_CATEGORIES: &str = include_str!("../data/channels/ga4_source_categories.csv");
const SOURCE_ALIASES: &str = include_str!("../data/channels/source_aliases.csv");

/// Registers `source_categories`, `source_aliases` and `channel_rules`.
pub async fn register(
    ctx: &SessionContext,
    scratch: &Scratch,
    settings: &ChannelSettings,
) -> Result<()> {
    let (categories_text, origin) = match &settings.source_categories {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| UserError::Config {
                origin: path.clone(),
                key: "channels.source_categories".into(),
                message: format!("cannot read the source-category list: {e}"),
            })?,
            path.as_str(),
        ),
        None => (
            GA4_SOURCE_CATEGORIES.to_string(),
            "data/channels/ga4_source_categories.csv",
        ),
    };
    let categories = two_columns(&categories_text, origin, ["source", "source_category"])?;
    scratch
        .register_batch(
            ctx,
            "source_categories",
            batch(vec![
                (
                    "source",
                    text(categories.iter().map(|r| r.0.to_lowercase())),
                ),
                (
                    "source_category",
                    text(categories.iter().map(|r| r.1.clone())),
                ),
            ])?,
        )
        .await?;

    let aliases = two_columns(
        SOURCE_ALIASES,
        "data/channels/source_aliases.csv",
        ["pattern", "source"],
    )?;
    scratch
        .register_batch(
            ctx,
            "source_aliases",
            batch(vec![
                ("alias_order", order(aliases.len())),
                ("pattern", text(aliases.iter().map(|r| r.0.clone()))),
                ("source", text(aliases.iter().map(|r| r.1.clone()))),
            ])?,
        )
        .await?;

    let rules = &settings.rules;
    let condition = |value: &Option<String>| value.as_ref().map(|v| v.trim().to_lowercase());
    scratch
        .register_batch(
            ctx,
            "channel_rules",
            batch(vec![
                ("rule_order", order(rules.len())),
                (
                    "source",
                    Arc::new(StringArray::from_iter(
                        rules.iter().map(|r| condition(&r.source)),
                    )),
                ),
                (
                    "medium",
                    Arc::new(StringArray::from_iter(
                        rules.iter().map(|r| condition(&r.medium)),
                    )),
                ),
                (
                    "campaign",
                    Arc::new(StringArray::from_iter(
                        rules.iter().map(|r| condition(&r.campaign)),
                    )),
                ),
                ("channel", text(rules.iter().map(|r| r.channel.clone()))),
            ])?,
        )
        .await?;
    Ok(())
}

/// The rows of a two-column CSV with the given header (no quoting; only the first value may
/// hold commas, as a pattern's `{2,3}` does).
fn two_columns(text: &str, origin: &str, header: [&str; 2]) -> Result<Vec<(String, String)>> {
    let mut lines = text.lines().enumerate();
    let expected = header.join(",");
    match lines.next() {
        Some((_, first)) if first.trim() == expected => {}
        _ => {
            return Err(
                UserError::input(origin, format!("the first line must be {expected:?}")).into(),
            );
        }
    }
    lines
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| match line.rsplit_once(',') {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                Ok((a.trim().to_string(), b.trim().to_string()))
            }
            _ => Err(UserError::input(
                format!("{origin}:{}", i + 1),
                format!("expected two values, {expected}"),
            )
            .into()),
        })
        .collect()
}

fn text(values: impl Iterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn order(n: usize) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(0..n as i64))
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, DataType::clone(array.data_type()), true))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        columns.into_iter().map(|(_, array)| array).collect(),
    )?)
}
