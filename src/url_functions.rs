//! `url_host` and `url_parameter`: the two pieces of a URL that attribution reads, as scalar
//! functions the models call (`sql/sessions.sql`, `sql/sessionized_events.sql`).
//!
//! ```sql
//! url_host(referrer)                     -- 'www.google.com', lower case; NULL: no host
//! url_parameter(page_url, 'utm_source')  -- the raw value; NULL: absent or empty
//! ```
//!
//! They were regular expressions in SQL, and at two million events those took a tenth of the
//! run's CPU: a regular expression per session and column, each building a new string. Here
//! each is one scan of the string, copying nothing but a host with capitals (or non-ASCII letters). They keep the
//! expressions' rules (the tests of this module spell them out, and check them against the
//! expressions), but for a URL with a line break, where the expressions (whose `.` stops at
//! one) found no match and took the whole URL as its host or value:
//! - a host is what follows `//` (after an optional scheme) up to the first `/`, `?`, `#` or
//!   `:`, after any `user@`; there is none unless a character other than `/`, `?` or `#`
//!   follows the `//`;
//! - a parameter is read from the query (after the first `?`, if no `#` comes before it, and
//!   up to the `#`): the last `name=value` pair of that name wins, as the greedy expression
//!   took it, and the value is kept as written (not percent-decoded).

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The functions, ready to register on a session.
pub fn udfs() -> Vec<ScalarUDF> {
    [Part::Host, Part::Parameter]
        .into_iter()
        .map(|part| ScalarUDF::from(UrlFunction::new(part)))
        .collect()
}

/// The host of a URL, lower-cased (a copy only when it is not lower-case ASCII already).
pub fn host(url: &str) -> Option<Cow<'_, str>> {
    let after_scheme = match scheme_end(url) {
        Some(end) if url[end..].starts_with("//") => &url[end..],
        _ => url,
    };
    let authority = after_scheme.strip_prefix("//")?;
    // a host needs one character that does not end the authority at once
    if authority.is_empty() || authority.starts_with(['/', '?', '#']) {
        return None;
    }
    let after_user = match find_byte(authority, b"/?#@") {
        Some(at) if authority.as_bytes()[at] == b'@' => &authority[at + 1..],
        _ => authority,
    };
    let end = find_byte(after_user, b"/?#:").unwrap_or(after_user.len());
    let host = &after_user[..end];
    // lower-case ASCII is its own lower case; anything else goes through to_lowercase
    Some(
        if host
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
        {
            Cow::Borrowed(host)
        } else {
            Cow::Owned(host.to_lowercase())
        },
    )
}

/// Where the first of `bytes` (ASCII) is in `text`. As `str::find` with those characters, but
/// byte by byte: `find` with a set of characters decodes every character of the text, and
/// the URL functions spent most of their time there (`url_parameter`, three times per
/// session on the landing URL: 0.47 s of CPU for 2.6 million sessions). An ASCII byte is
/// never part of another character in UTF-8, so the two give the same index.
fn find_byte(text: &str, bytes: &[u8]) -> Option<usize> {
    text.bytes().position(|b| bytes.contains(&b))
}

/// Where a URL's scheme (`http:`) ends, if it has one.
fn scheme_end(url: &str) -> Option<usize> {
    let bytes = url.as_bytes();
    if !bytes.first()?.is_ascii_alphabetic() {
        return None;
    }
    let colon = bytes
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')))?;
    (bytes[colon] == b':').then_some(colon + 1)
}

/// The value of the last `name=` pair in a URL's query; None when there is none or it is
/// empty.
pub fn parameter<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    // most URLs have no query: found so in a few instructions per 16 bytes
    let question = memchr::memchr2(b'?', b'#', url.as_bytes())?;
    if url.as_bytes()[question] != b'?' {
        return None;
    }
    let query = &url[question + 1..];
    let query = &query[..query.find('#').unwrap_or(query.len())];
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .next_back()
        .filter(|value| !value.is_empty())
}

/// Which part of a URL a function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Host,
    Parameter,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct UrlFunction {
    part: Part,
    signature: Signature,
}

impl UrlFunction {
    fn new(part: Part) -> Self {
        let arguments = match part {
            Part::Host => vec![DataType::Utf8],
            Part::Parameter => vec![DataType::Utf8, DataType::Utf8],
        };
        UrlFunction {
            part,
            signature: Signature::exact(arguments, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for UrlFunction {
    fn name(&self) -> &str {
        match self.part {
            Part::Host => "url_host",
            Part::Parameter => "url_parameter",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (urls, name) = match (self.part, args.args.as_slice()) {
            (Part::Host, [urls]) => (urls, None),
            (Part::Parameter, [urls, ColumnarValue::Scalar(name)]) => match name.try_as_str() {
                Some(Some(name)) => (urls, Some(name)),
                _ => return exec_err!("url_parameter: the parameter name must be a string"),
            },
            _ => {
                return exec_err!(
                    "{} takes a URL{}",
                    self.name(),
                    if self.part == Part::Parameter {
                        " and a constant parameter name"
                    } else {
                        ""
                    }
                );
            }
        };
        Ok(match urls {
            ColumnarValue::Scalar(url) => {
                let Some(url) = url.try_as_str() else {
                    return exec_err!("{}: the URL must be a string", self.name());
                };
                let part = url.and_then(|u| read(u, name).map(Cow::into_owned));
                ColumnarValue::Scalar(ScalarValue::Utf8(part))
            }
            ColumnarValue::Array(urls) => {
                let parts: StringArray = urls
                    .as_string::<i32>()
                    .iter()
                    .map(|url| url.and_then(|u| read(u, name)))
                    .collect();
                ColumnarValue::Array(Arc::new(parts) as ArrayRef)
            }
        })
    }
}

/// The part a function reads: the host or, given a parameter's name, its value (a slice of
/// the URL, as is a lower-case ASCII host: no copy per row but the array's own).
fn read<'a>(url: &'a str, name: Option<&str>) -> Option<Cow<'a, str>> {
    match name {
        None => host(url),
        Some(name) => parameter(url, name).map(Cow::Borrowed),
    }
}

#[cfg(test)]
mod tests {
    use super::{host, parameter};

    /// URLs and their hosts, worked out by hand from the rules above.
    const HOSTS: &[(&str, Option<&str>)] = &[
        ("https://WWW.Google.com/search?q=1", Some("www.google.com")),
        ("http://user:pw@example.org:8080/x", Some("example.org")),
        ("//cdn.example.com/a.js", Some("cdn.example.com")),
        (
            "android-app://com.google.android.gm/",
            Some("com.google.android.gm"),
        ),
        ("https://example.com?x=1", Some("example.com")),
        ("https://example.com#top", Some("example.com")),
        ("https://example.com", Some("example.com")),
        // a character other than / ? # after the slashes: a host, perhaps empty
        ("https://:8080/x", Some("")),
        ("https://a@b@c/x", Some("b@c")),
        // no host
        ("https:///path", None),
        ("https://", None),
        ("https://?q", None),
        ("/relative/path", None),
        ("example.com/page", None),
        ("mailto:someone@example.com", None),
        ("1http://example.com", None),
        ("ht tp://example.com", None),
        ("", None),
    ];

    /// URLs and their `utm_source`, worked out by hand.
    const SOURCES: &[(&str, Option<&str>)] = &[
        (
            "https://x.com/?utm_source=news&utm_medium=email",
            Some("news"),
        ),
        (
            "https://x.com/?a=1&utm_source=News%20Letter",
            Some("News%20Letter"),
        ),
        ("https://x.com/?utm_source=a&utm_source=b", Some("b")),
        ("https://x.com/?utm_source=a#utm_source=b", Some("a")),
        ("https://x.com/?a=1#frag?utm_source=b", None),
        ("https://x.com/#x?utm_source=b", None),
        ("https://x.com/?xutm_source=b", None),
        ("https://x.com/?utm_source=", None),
        ("https://x.com/?utm_source=&utm_source=c", Some("c")),
        ("https://x.com/?utm_source", None),
        ("https://x.com/utm_source=b", None),
        ("?utm_source=b", Some("b")),
        ("https://x.com/?a=1?utm_source=b", None),
        (
            "https://x.com/?a=1&b=2?utm_source=c&utm_source=d",
            Some("d"),
        ),
    ];

    #[test]
    fn a_host_follows_the_double_slash_after_an_optional_scheme() {
        for &(url, expected) in HOSTS {
            assert_eq!(host(url).as_deref(), expected, "{url}");
        }
    }

    /// A host with capitals outside ASCII is lower-cased as a whole (a lower-case ASCII host
    /// is borrowed as it is), and a line break ends the URL's host, where the regular
    /// expressions this replaced read on past it.
    #[test]
    fn a_non_ascii_host_is_lower_cased_and_a_line_break_ends_the_host() {
        assert_eq!(host("https://ÄÖ.de/x").as_deref(), Some("äö.de"));
        assert!(matches!(
            host("https://a.com/x"),
            Some(std::borrow::Cow::Borrowed("a.com"))
        ));
        assert_eq!(host("https://a.com/\nx").as_deref(), Some("a.com"));
    }

    #[test]
    fn a_parameter_is_the_last_pair_of_its_name_in_the_query() {
        for &(url, expected) in SOURCES {
            assert_eq!(parameter(url, "utm_source"), expected, "{url}");
        }
    }

    /// Every string of up to four of these pieces: the characters the rules turn on, in
    /// every order (no line break, where the expressions differ: see the module's doc).
    fn generated_urls() -> Vec<String> {
        const PIECES: &[&str] = &[
            "http:",
            "//",
            "a",
            "B",
            "@",
            ":",
            "/",
            "?",
            "#",
            "&",
            "=",
            "utm_source=",
            "1",
        ];
        let mut urls = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|url| PIECES.iter().map(move |piece| format!("{url}{piece}")))
                .collect();
            urls.extend(last.iter().cloned());
        }
        urls
    }

    /// The regular expressions the models used before these functions, as the engine ran
    /// them (`regexp_like`, then `regexp_replace` of the first match), give the same answer
    /// on every URL above and on every generated one.
    #[test]
    fn the_functions_answer_as_the_regular_expressions_they_replace() {
        let authority = regex::Regex::new("^([A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]").unwrap();
        let host_part =
            regex::Regex::new("^([A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#@]*@)?([^/?#:]*).*$").unwrap();
        let source = regex::Regex::new("^[^?#]*\\?([^#]*&)?utm_source=([^&#]*).*$|^.*$").unwrap();
        let listed = HOSTS.iter().chain(SOURCES).map(|&(url, _)| url.to_string());
        let urls: Vec<String> = listed.chain(generated_urls()).collect();
        assert!(urls.len() > 30_000);
        for url in &urls {
            let url = url.as_str();
            let by_regex = authority
                .is_match(url)
                .then(|| host_part.replace(url, "${3}").to_lowercase());
            assert_eq!(host(url).map(String::from), by_regex, "host of {url}");
            let by_regex = source.replace(url, "${2}");
            let by_regex = (!by_regex.is_empty()).then_some(by_regex.as_ref());
            assert_eq!(
                parameter(url, "utm_source"),
                by_regex,
                "utm_source of {url}"
            );
        }
    }
}
