//! Pattern detectors that rules can name: the built-ins (US social security
//! numbers, payment card numbers, IBANs; shapes and checks in
//! [`super::builtin`]), which read the layout text, and custom regular
//! expressions with an optional validator, which read the normalised text
//! (lower-case words joined by single spaces, as DESIGN §2 describes).

use super::builtin::Builtin;
use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validator {
    None,
    Luhn,
    Iban,
    Ssn,
}

#[derive(Debug)]
/// A `[[detector]]` from the rules file: a regular expression, or a built-in with its checksum.
pub struct PatternDetector {
    pub(crate) name: String,
    regex: Regex,
    validator: Validator,
    /// Set for a built-in: it reads the layout text and judges its own
    /// candidates.
    builtin: Option<Builtin>,
}

impl PatternDetector {
    /// A detector from the config: a built-in name, or a regex plus validator.
    pub fn new(
        name: &str,
        builtin: Option<&str>,
        regex: Option<&str>,
        validate: Option<&str>,
    ) -> Result<Self, String> {
        let (pattern, validator, builtin) = match (builtin, regex) {
            (Some(name), None) => {
                let b = Builtin::parse(name).ok_or_else(|| {
                    format!("unknown built-in detector {name:?} (ssn, card, iban)")
                })?;
                (b.pattern(), Validator::None, Some(b))
            }
            (None, Some(re)) => (re, parse_validator(validate)?, None),
            (Some(_), Some(_)) => return Err("give either `builtin` or `regex`, not both".into()),
            (None, None) => return Err("a detector needs `builtin` or `regex`".into()),
        };
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("bad regex: {e}"))?;
        Ok(PatternDetector {
            name: name.to_string(),
            regex,
            validator,
            builtin,
        })
    }

    /// Whether this detector reads the layout text (see [`super::layout`])
    /// rather than the normalised text.
    pub(crate) fn reads_layout(&self) -> bool {
        self.builtin.is_some()
    }

    /// The regular expression as written, for `rules lint` and error messages.
    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    /// Every match in `text`: the layout text for a built-in, the
    /// normalised text for a custom detector.
    pub fn find(&self, text: &str, mut found: impl FnMut(std::ops::Range<usize>)) {
        for m in self.regex.find_iter(text) {
            let real = match self.builtin {
                Some(b) => b.accept(text, m.range()),
                None => validate(self.validator, m.as_str()),
            };
            if real {
                found(m.range());
            }
        }
    }
}

fn parse_validator(v: Option<&str>) -> Result<Validator, String> {
    Ok(match v {
        None | Some("none") => Validator::None,
        Some("luhn") => Validator::Luhn,
        Some("iban") => Validator::Iban,
        Some("ssn") => Validator::Ssn,
        Some(other) => {
            return Err(format!(
                "unknown validator {other:?} (luhn, iban, ssn, none)"
            ))
        }
    })
}

fn validate(v: Validator, s: &str) -> bool {
    match v {
        Validator::None => true,
        Validator::Luhn => luhn(s),
        Validator::Iban => iban(s),
        Validator::Ssn => ssn(s),
    }
}

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

pub(crate) fn luhn(s: &str) -> bool {
    let d = digits(s);
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                if x * 2 > 9 {
                    x * 2 - 9
                } else {
                    x * 2
                }
            } else {
                x
            }
        })
        .sum();
    sum % 10 == 0
}

/// The `iban` validator of custom detectors, which read lower-case
/// normalised text: any case, any separators; the country's length and BBAN
/// format (ISO 13616 registry) and mod 97 must hold.
pub(crate) fn iban(s: &str) -> bool {
    let compact: String = s
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    compact.parse::<iban::Iban>().is_ok()
}

/// SSA rules: no area 000, 666 or 9xx, no group 00, no serial 0000.
pub(crate) fn ssn(s: &str) -> bool {
    let d = digits(s);
    if d.len() != 9 {
        return false;
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Compiles every `[[detector]]` table; each problem (naming the detector)
/// is added to `problems`.
pub(crate) fn compile_all(
    raw: &[crate::config::raw::RawDetector],
    problems: &mut Vec<String>,
) -> Vec<PatternDetector> {
    let mut out: Vec<PatternDetector> = Vec::new();
    for d in raw {
        if matches!(d.name.as_str(), "client" | "matter") || out.iter().any(|o| o.name == d.name) {
            problems.push(format!(
                "[[detector]] {:?}: duplicate or reserved name",
                d.name
            ));
            continue;
        }
        let made = PatternDetector::new(
            &d.name,
            d.builtin.as_deref(),
            d.regex.as_deref(),
            d.validate.as_deref(),
        );
        match made {
            Ok(p) => out.push(p),
            Err(e) => problems.push(format!("[[detector]] {:?}: {e}", d.name)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert!(iban("gb82 west 1234 5698 7654 32"));
        assert!(!iban("gb82 west 1234 5698 7654 33"));
        assert!(ssn("123-45-6789"));
        assert!(!ssn("666-45-6789"));
        assert!(!ssn("123-00-6789"));
    }

    #[test]
    fn builtins_find() {
        let card = PatternDetector::new("card", Some("card"), None, None).unwrap();
        let mut n = 0;
        // Built-ins read the layout text, where separators survive.
        let layout = crate::detect::layout::Layout::of(
            "pay with 4111-1111-1111-1111 today, not 1234 5678 9012 3458",
        );
        card.find(&layout.text, |_| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn custom_detectors_read_normalised_text() {
        let docket = PatternDetector::new("d", None, Some(r"\bcase \d{4}\b"), None).unwrap();
        assert!(!docket.reads_layout());
        let mut n = 0;
        docket.find(
            &crate::text::normalise::normalise("Case-2024", None),
            |_| n += 1,
        );
        assert_eq!(n, 1);
        assert!(iban("GB82-WEST-1234-5698-7654-32"));
        assert!(!iban("gb82 west 1234 5698 7654"));
    }
}
