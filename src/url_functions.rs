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
//! each is one scan of the string with no allocation but the result. They keep the
//! expressions' exact rules (the tests of this module spell them out):
//! - a host is what follows `//` (after an optional scheme) up to the first `/`, `?`, `#` or
//!   `:`, after any `user@`; there is none unless a character other than `/`, `?` or `#`
//!   follows the `//`;
//! - a parameter is read from the query (after the first `?`, if no `#` comes before it, and
//!   up to the `#`): the last `name=value` pair of that name wins, as the greedy expression
//!   took it, and the value is kept as written (not percent-decoded).

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

/// The host of a URL, lower-cased.
pub fn host(url: &str) -> Option<String> {
    let after_scheme = match scheme_end(url) {
        Some(end) if url[end..].starts_with("//") => &url[end..],
        _ => url,
    };
    let authority = after_scheme.strip_prefix("//")?;
    // a host needs one character that does not end the authority at once
    if authority.is_empty() || authority.starts_with(['/', '?', '#']) {
        return None;
    }
    let after_user = match authority.find(['/', '?', '#', '@']) {
        Some(at) if authority.as_bytes()[at] == b'@' => &authority[at + 1..],
        _ => authority,
    };
    let end = after_user
        .find(['/', '?', '#', ':'])
        .unwrap_or(after_user.len());
    Some(after_user[..end].to_lowercase())
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
    let question = url.find(['?', '#'])?;
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
            (Part::Parameter, [urls, ColumnarValue::Scalar(name)]) => match scalar_string(name)? {
                Some(name) => (urls, Some(name)),
                None => return exec_err!("url_parameter: the parameter name must not be NULL"),
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
        // the part as an owned string: a host is lower-cased, a parameter borrowed
        let read = |url: &str| -> Option<String> {
            match &name {
                None => host(url),
                Some(name) => parameter(url, name).map(str::to_string),
            }
        };
        Ok(match urls {
            ColumnarValue::Scalar(url) => ColumnarValue::Scalar(ScalarValue::Utf8(
                scalar_string(url)?.and_then(|u| read(&u)),
            )),
            ColumnarValue::Array(urls) => {
                let parts: StringArray = urls
                    .as_string::<i32>()
                    .iter()
                    .map(|url| url.and_then(read))
                    .collect();
                ColumnarValue::Array(Arc::new(parts) as ArrayRef)
            }
        })
    }
}

fn scalar_string(value: &ScalarValue) -> Result<Option<String>> {
    match value {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => {
            Ok(s.clone())
        }
        other => exec_err!("expected a string, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{host, parameter};

    #[test]
    fn a_host_follows_the_double_slash_after_an_optional_scheme() {
        let cases = [
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
        for (url, expected) in cases {
            assert_eq!(host(url).as_deref(), expected, "{url}");
        }
    }

    #[test]
    fn a_parameter_is_the_last_pair_of_its_name_in_the_query() {
        let cases = [
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
        for (url, expected) in cases {
            assert_eq!(parameter(url, "utm_source"), expected, "{url}");
        }
    }
}
