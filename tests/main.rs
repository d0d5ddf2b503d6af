//! The integration tests: one test binary that runs the real `sessionize` executable on real
//! Parquet files in fresh temporary directories, and checks its outputs against values
//! computed by hand, by other engines (Spark, Beam), by a data set's own labels, or by a
//! deliberately simple reference sessionizer.

mod common;

mod bad_input;
#[cfg(feature = "distributed")]
mod ballista;
mod channels;
mod cli;
mod devices;
mod ecommerce;
mod event_time_types;
mod hand_cases;
mod incremental;
mod output_schema;
mod pages;
mod presets;
mod query;
mod reference;
mod resources;
mod s3;
mod safe_outputs;
mod snowplow;
mod vectors;
