//! The interactive prompt of `sessionize query`, when it is started on a terminal without
//! SQL: statements end with `;` and may span lines; `\d` lists the tables and their
//! columns, `\d NAME` one table's, `\q` quits. Lines are kept in a history file
//! (`$SESSIONIZE_HISTORY`, else `~/.sessionize_history`) that the arrow keys walk through.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use dialoguer::History;
use dialoguer::Input;
use dialoguer::theme::Theme;

use crate::query::Catalog;
use crate::results::{self, Format};

const HELP: &str = "SQL ending in ';' runs (it may span lines). \\d lists the tables and their columns, \\d NAME one table's; \\q quits.";
/// Lines kept in the history file.
const HISTORY_LINES: usize = 1000;

pub async fn interactive(catalog: &Catalog) -> Result<()> {
    eprintln!(
        "sessionize query: {} tables ({}). {HELP}",
        catalog.tables().len(),
        catalog.tables().join(", ")
    );
    let mut history = FileHistory::load();
    let mut statement = String::new();
    loop {
        let prompt = if statement.is_empty() { "sql" } else { "..." };
        let Ok(line) = Input::<String>::with_theme(&Prompt)
            .with_prompt(prompt)
            .allow_empty(true)
            .history_with(&mut history)
            .interact_text()
        else {
            // Ctrl-C, or the terminal went away
            break;
        };
        let command = line.trim();
        if statement.is_empty() {
            match command {
                "" => continue,
                "\\q" | "quit" | "exit" => break,
                "\\?" | "help" => {
                    eprintln!("{HELP}");
                    continue;
                }
                _ => {}
            }
            if let Some(table) = command.strip_prefix("\\d") {
                let table = table.trim();
                let described = catalog.describe((!table.is_empty()).then_some(table)).await;
                show(described.map(|r| vec![r]));
                continue;
            }
        }
        statement.push_str(&line);
        statement.push('\n');
        if command.ends_with(';') {
            show(catalog.run(&statement, false).await);
            statement.clear();
        }
    }
    Ok(())
}

/// Prints results as a table, or the error, and carries on.
fn show(outcome: Result<Vec<results::Results>>) {
    let shown = outcome.and_then(|results| results::write_all(&results, Format::Table, None));
    if let Err(error) = shown {
        eprintln!("error: {error:#}");
    }
    let _ = std::io::stdout().flush();
}

/// `sql> ` and `...> `, with what was typed left on screen.
struct Prompt;

impl Theme for Prompt {
    fn format_input_prompt(
        &self,
        f: &mut dyn fmt::Write,
        prompt: &str,
        _default: Option<&str>,
    ) -> fmt::Result {
        write!(f, "{prompt}> ")
    }

    fn format_input_prompt_selection(
        &self,
        f: &mut dyn fmt::Write,
        prompt: &str,
        selection: &str,
    ) -> fmt::Result {
        write!(f, "{prompt}> {selection}")
    }
}

/// The history, newest line first, appended to its file as lines are entered.
struct FileHistory {
    lines: VecDeque<String>,
    path: Option<PathBuf>,
}

impl FileHistory {
    fn load() -> Self {
        let path = std::env::var_os("SESSIONIZE_HISTORY")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".sessionize_history"))
            });
        let lines = path
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .map(|text| {
                text.lines()
                    .rev()
                    .take(HISTORY_LINES)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        FileHistory { lines, path }
    }
}

impl History<String> for FileHistory {
    fn read(&self, pos: usize) -> Option<String> {
        self.lines.get(pos).cloned()
    }

    fn write(&mut self, line: &String) {
        if line.trim().is_empty() || self.lines.front() == Some(line) {
            return;
        }
        self.lines.push_front(line.clone());
        self.lines.truncate(HISTORY_LINES);
        if let Some(path) = &self.path {
            // a history that cannot be saved is no reason to stop the session
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| writeln!(file, "{line}"));
        }
    }
}
