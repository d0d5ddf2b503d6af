//! The errors a user can act on, kept apart from internal failures so `main` can choose the
//! exit code: 2 when the input or the configuration is at fault, 1 for anything else.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum UserError {
    /// A config key (or flag) with a bad value.
    #[error("{origin}: {key}: {message}", key = if key.is_empty() { "config" } else { key })]
    Config {
        origin: String,
        key: String,
        message: String,
    },
    /// The input data: a path, a file, a column.
    #[error("{location}: {message}")]
    Input { location: String, message: String },
}

impl UserError {
    pub fn input(location: impl Into<String>, message: impl Into<String>) -> Self {
        UserError::Input {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// Exit codes, documented in the README and `--help`.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
}

/// 2 if anything in the error's chain is the user's to fix, else 1.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    if error.chain().any(|cause| cause.is::<UserError>()) {
        exit::BAD_INPUT
    } else {
        exit::FAILURE
    }
}
