//! MIME header parameters read the way different parsers read them, so
//! that disagreement is seen: plain `name=` values, RFC 2231 (`name*=` and
//! `name*0`, `name*1`… sections, percent-encoded with `charset'lang'`), and
//! the same header both with RFC 5322 comments skipped and as a parser that
//! does not know comments sees it.

/// Every value parameter `name` has in a header value, in every form a
/// parser may read: plain (`name=`), RFC 2231 (`name*=`, and `name*0`,
/// `name*1`… joined), and both with comments skipped and as a parser that
/// does not know comments sees them (`(boundary="B";) boundary="A"`). More
/// than one distinct value means parsers disagree.
pub(crate) fn param_values(value: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for text in [strip_comments(value), value.to_string()] {
        let mut continued: Vec<(u32, String)> = Vec::new();
        for (key, val) in split_params(&text) {
            let Some(rest) = key.strip_prefix(name) else {
                continue;
            };
            match rest {
                "" => out.push(val),
                "*" => out.push(rfc2231_value(&val, true)),
                _ => {
                    // `name*N` or `name*N*` (percent-encoded; the first
                    // section also carries `charset'language'`).
                    let section = rest.strip_prefix('*').unwrap_or(rest);
                    let (num, extended) = match section.strip_suffix('*') {
                        Some(n) => (n, true),
                        None => (section, false),
                    };
                    let Ok(n) = num.parse::<u32>() else { continue };
                    let v = match (extended, n) {
                        (false, _) => val,
                        (true, 0) => rfc2231_value(&val, true),
                        (true, _) => percent_decode(&val),
                    };
                    continued.push((n, v));
                }
            }
        }
        if !continued.is_empty() {
            continued.sort();
            out.push(continued.into_iter().map(|(_, v)| v).collect());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `key=value` pairs after the media type, split on `;` outside quotes;
/// keys lower case without stray comment parentheses, values unquoted.
fn split_params(value: &str) -> Vec<(String, String)> {
    let mut pieces = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                pieces.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&value[start..]);
    pieces
        .into_iter()
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let key = k.trim_start_matches(|c: char| c.is_whitespace() || c == '(' || c == ')');
            let v = v.trim();
            let val = match v.strip_prefix('"') {
                Some(q) => q.split('"').next().unwrap_or("").replace('\\', ""),
                None => v.split([' ', '\t', '(']).next().unwrap_or("").to_string(),
            };
            (key.trim().to_ascii_lowercase(), val)
        })
        .collect()
}

/// An RFC 2231 value: `charset'language'percent-encoded` when `extended`.
fn rfc2231_value(val: &str, extended: bool) -> String {
    if !extended {
        return val.to_string();
    }
    let encoded = val.splitn(3, '\'').nth(2).unwrap_or(val);
    percent_decode(encoded)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn strip_comments(v: &str) -> String {
    let mut depth = 0usize;
    v.chars()
        .filter(|&c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::param_values;

    #[test]
    fn every_form_of_a_parameter_is_seen() {
        let cases: &[(&str, &[&str])] = &[
            ("multipart/mixed; boundary=\"b\"", &["b"]),
            (
                "multipart/mixed; boundary=\"A\"; boundary*=''B",
                &["A", "B"],
            ),
            (
                "multipart/mixed; boundary*0=\"A\"; boundary*1=\"B\"",
                &["AB"],
            ),
            (
                "multipart/mixed; boundary*0*=utf-8''%41; boundary*1*=%42",
                &["AB"],
            ),
            (
                "multipart/mixed; (boundary=\"B\";) boundary=\"A\"",
                &["A", "B"],
            ),
            ("multipart/mixed; boundary=A (comment)", &["A"]),
            ("multipart/mixed; boundary=\"a;b\"", &["a;b"]),
        ];
        for (value, want) in cases {
            assert_eq!(param_values(value, "boundary"), *want, "{value}");
        }
    }
}
