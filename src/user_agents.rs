//! Device, browser and operating system from the user agent, with uap-core's maintained
//! `regexes.yaml` (vendored in `data/user-agents/`, Apache-2.0) and its matching rules: the
//! first pattern that matches wins; a `*_replacement` may use `$1`…`$9`, else the first group.
//!
//! Each distinct user agent is parsed once, in Rust, into a small lookup table
//! (`user_agent_lookup`) that the models join with; the models never parse.
//!
//! Why not the `ua-parser` crate: it pulls `regex-filtered`, which turns on a feature of a
//! crate DataFusion shares (aho-corasick's `default`), forcing a rebuild of the whole engine.
//! The matching protocol is small; the patterns are the maintained part, and they are data.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

/// uap-core's patterns (version in `data/user-agents/README.md`).
const REGEXES_YAML: &str = include_str!("../data/user-agents/regexes.yaml");

#[derive(Deserialize)]
struct RegexesFile {
    user_agent_parsers: Vec<PatternEntry>,
    os_parsers: Vec<PatternEntry>,
    device_parsers: Vec<PatternEntry>,
}

#[derive(Deserialize)]
struct PatternEntry {
    regex: String,
    regex_flag: Option<String>,
    family_replacement: Option<String>,
    os_replacement: Option<String>,
    device_replacement: Option<String>,
}

/// One compiled pattern and the template of the name it gives.
struct Pattern {
    regex: Regex,
    replacement: Option<String>,
}

/// uap-core's three ordered pattern lists, compiled.
pub struct Parser {
    browsers: Vec<Pattern>,
    systems: Vec<Pattern>,
    devices: Vec<Pattern>,
}

/// What one user agent is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// desktop, mobile, tablet, bot or other.
    pub device: &'static str,
    pub browser: String,
    pub os: String,
}

impl Parser {
    pub fn new() -> Result<Self> {
        let file: RegexesFile =
            serde_yaml::from_str(REGEXES_YAML).context("reading data/user-agents/regexes.yaml")?;
        let compile = |entries: Vec<PatternEntry>,
                       pick: fn(&PatternEntry) -> Option<String>|
         -> Result<Vec<Pattern>> {
            entries
                .into_iter()
                .map(|entry| {
                    let regex = RegexBuilder::new(&rewrite(&entry.regex))
                        // uap-core's classes mean ASCII (\d is 0-9): smaller automata, as
                        // every port does
                        .unicode(false)
                        .case_insensitive(entry.regex_flag.as_deref() == Some("i"))
                        .build()
                        .with_context(|| format!("uap-core pattern {:?}", entry.regex))?;
                    Ok(Pattern {
                        replacement: pick(&entry),
                        regex,
                    })
                })
                .collect()
        };
        Ok(Parser {
            browsers: compile(file.user_agent_parsers, |e| e.family_replacement.clone())?,
            systems: compile(file.os_parsers, |e| e.os_replacement.clone())?,
            devices: compile(file.device_parsers, |e| e.device_replacement.clone())?,
        })
    }

    pub fn parse(&self, user_agent: &str) -> Parsed {
        let browser = first_match(&self.browsers, user_agent);
        let os = first_match(&self.systems, user_agent);
        let device = first_match(&self.devices, user_agent);
        Parsed {
            device: device_class(&browser, &os, &device, user_agent),
            browser,
            os,
        }
    }

    /// Parses `user_agents` on every core.
    fn parse_all(&self, user_agents: &[String]) -> Vec<Parsed> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = user_agents.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = user_agents
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|ua| self.parse(ua)).collect::<Vec<_>>())
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect::<Vec<Parsed>>()
        })
    }
}

/// The lookup table of `user_agents` (distinct values): user_agent, ua_device, ua_browser,
/// ua_os, is_bot. The patterns take a moment to compile, so only when there is a user agent.
pub fn lookup_table(user_agents: &[String]) -> Result<RecordBatch> {
    let parsed = if user_agents.is_empty() {
        Vec::new()
    } else {
        Parser::new()?.parse_all(user_agents)
    };
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    let schema = Arc::new(Schema::new(vec![
        text("user_agent"),
        text("ua_device"),
        text("ua_browser"),
        text("ua_os"),
        Field::new("is_bot", DataType::Boolean, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(user_agents)),
            Arc::new(StringArray::from_iter_values(
                parsed.iter().map(|p| p.device),
            )),
            Arc::new(StringArray::from_iter_values(
                parsed.iter().map(|p| &p.browser),
            )),
            Arc::new(StringArray::from_iter_values(parsed.iter().map(|p| &p.os))),
            Arc::new(BooleanArray::from_iter(
                parsed.iter().map(|p| Some(p.device == "bot")),
            )),
        ],
    )?)
}

/// uap-core's rule: the first pattern that matches names it, by its replacement (with `$n`
/// filled in) or its first group; nothing matching is "Other".
fn first_match(patterns: &[Pattern], user_agent: &str) -> String {
    for pattern in patterns {
        let Some(captures) = pattern.regex.captures(user_agent.as_bytes()) else {
            continue;
        };
        let name = match pattern
            .replacement
            .as_deref()
            .filter(|r| !r.trim().is_empty())
        {
            Some(template) => {
                let mut out = Vec::new();
                captures.expand(template.as_bytes(), &mut out);
                String::from_utf8_lossy(&out).trim().to_string()
            }
            None => captures
                .get(1)
                .map(|g| String::from_utf8_lossy(g.as_bytes()).trim().to_string())
                .unwrap_or_default(),
        };
        return if name.is_empty() {
            "Other".to_string()
        } else {
            name
        };
    }
    "Other".to_string()
}

/// The device class GA4 and Snowplow report, from uap-core's answers: uap-core names
/// crawlers "Spider", tablets and phones by model, operating systems by family.
fn device_class(browser: &str, os: &str, device: &str, user_agent: &str) -> &'static str {
    const PHONE_SYSTEMS: &[&str] = &[
        "iOS",
        "Android",
        "Windows Phone",
        "BlackBerry OS",
        "Symbian OS",
        "KaiOS",
        "Firefox OS",
        "Tizen",
        "webOS",
    ];
    const DESKTOP_SYSTEMS: &[&str] = &[
        "Windows",
        "Mac OS X",
        "Linux",
        "Ubuntu",
        "Chrome OS",
        "Fedora",
        "Debian",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
        "Mint",
        "Red Hat",
        "SUSE",
    ];
    let lower_device = device.to_ascii_lowercase();
    if device == "Spider" || browser == "Spider" {
        "bot"
    } else if device == "iPad"
        || lower_device.contains("tablet")
        || lower_device.starts_with("kindle")
        // Android phones say "Mobile", Android tablets do not (Google's own convention)
        || (os == "Android" && !user_agent.contains("Mobile"))
    {
        "tablet"
    } else if PHONE_SYSTEMS.contains(&os) || device == "iPhone" || user_agent.contains("Mobi") {
        "mobile"
    } else if DESKTOP_SYSTEMS.contains(&os) {
        "desktop"
    } else {
        "other"
    }
}

/// uap-core's patterns are written for backtracking engines; long bounded repetitions
/// (`{0,300}`) make large automata in the `regex` crate. As uap-rust does, `{0,N}` and
/// `{1,N}` with N of three digits or more become `*` and `+` (the match is the same for any
/// user agent shorter than N).
fn rewrite(pattern: &str) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(pattern.len());
    let bytes = pattern.as_bytes();
    let mut i = 0;
    let mut escaped = false;
    let mut in_class = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        if escaped {
            escaped = false;
        } else if c == b'\\' {
            escaped = true;
        } else if c == b'[' {
            in_class += 1;
        } else if c == b']' {
            in_class = in_class.saturating_sub(1);
        } else if c == b'{'
            && in_class == 0
            && let Some(end) = pattern[i..].find('}')
        {
            let inner = &pattern[i + 1..i + end];
            if let Some((low, high)) = inner.split_once(',')
                && (low == "0" || low == "1")
                && high.len() >= 3
                && high.bytes().all(|b| b.is_ascii_digit())
            {
                out.push(if low == "0" { b'*' } else { b'+' });
                i += end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    // only ASCII bytes were replaced, so the text is still UTF-8
    String::from_utf8(out).unwrap_or_else(|_| pattern.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bounded_repetitions_become_open() {
        assert_eq!(rewrite("a.{0,300}b"), "a.*b");
        assert_eq!(rewrite("a.{1,100}b"), "a.+b");
        assert_eq!(rewrite("a.{0,30}b"), "a.{0,30}b");
        assert_eq!(rewrite(r"a\{0,300}b"), r"a\{0,300}b");
        assert_eq!(rewrite("[{0,300}]"), "[{0,300}]");
    }

    #[test]
    fn every_pattern_compiles() {
        let parser = Parser::new().unwrap();
        assert!(parser.browsers.len() > 100);
        assert!(parser.systems.len() > 50);
        assert!(parser.devices.len() > 100);
    }
}
