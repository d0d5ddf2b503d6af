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
    /// Flags that do not make sense (together).
    #[error("{0}")]
    Usage(String),
}

impl UserError {
    /// A flag's value (or its environment variable's) that is wrong: the command line's to
    /// fix, whatever a config file says.
    pub fn flag(flag: &str, message: impl Into<String>) -> Self {
        UserError::Config {
            origin: "command line".into(),
            key: flag.into(),
            message: message.into(),
        }
    }

    pub fn input(location: impl Into<String>, message: impl Into<String>) -> Self {
        UserError::Input {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// Another run holds the output's lock.
#[derive(Debug, Error)]
#[error(
    "another run is writing to this output ({holder}; lock {lock}); try again when it has finished, or pass --wait-for-lock"
)]
pub struct OutputBusy {
    pub lock: String,
    pub holder: String,
}

/// Exit codes, documented in the README and `--help`.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const SKIPPED_FILES: i32 = 3;
    pub const OUTPUT_BUSY: i32 = 4;
}

/// 2 if anything in the error's chain is the user's to fix, 4 if another run holds the
/// output, else 1.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    if error.chain().any(|cause| cause.is::<UserError>()) {
        exit::BAD_INPUT
    } else if error.chain().any(|cause| cause.is::<OutputBusy>()) {
        exit::OUTPUT_BUSY
    } else {
        exit::FAILURE
    }
}
