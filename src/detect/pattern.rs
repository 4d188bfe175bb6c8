//! Pattern detectors that rules can name: US social security numbers, payment
//! card numbers (Luhn-checked), IBANs (ISO 7064 mod-97), and custom regular
//! expressions with an optional validator. They run over the normalised text,
//! which is lower-case with every dash as `-`.

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    None,
    Luhn,
    Iban,
    Ssn,
}

#[derive(Debug)]
pub struct PatternDetector {
    pub name: String,
    regex: Regex,
    validator: Validator,
}

// Normalised text is lower-case ASCII-folded words separated by single
// spaces (every dash or dot is a space by then), so the built-ins use ASCII
// classes and boundaries, which keep the regex engine on its fast DFA.
const SSN: &str = r"(?-u:\b\d{3} ?\d{2} ?\d{4}\b)";
const CARD: &str = r"(?-u:\b\d(?: ?\d){12,18}\b)";
const IBAN: &str = r"(?-u:\b[a-z]{2}\d{2}(?: ?[a-z0-9]){11,30}\b)";

impl PatternDetector {
    /// A detector from the config: a built-in name, or a regex plus validator.
    pub fn new(
        name: &str,
        builtin: Option<&str>,
        regex: Option<&str>,
        validate: Option<&str>,
    ) -> Result<Self, String> {
        let (pattern, validator) = match (builtin, regex) {
            (Some("ssn"), None) => (SSN, Validator::Ssn),
            (Some("card"), None) => (CARD, Validator::Luhn),
            (Some("iban"), None) => (IBAN, Validator::Iban),
            (Some(other), None) => {
                return Err(format!(
                    "unknown built-in detector {other:?} (ssn, card, iban)"
                ))
            }
            (None, Some(re)) => (re, parse_validator(validate)?),
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
        })
    }

    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    pub fn find(&self, text: &str, mut found: impl FnMut(std::ops::Range<usize>)) {
        for m in self.regex.find_iter(text) {
            if validate(self.validator, m.as_str()) {
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

pub fn luhn(s: &str) -> bool {
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

pub fn iban(s: &str) -> bool {
    let compact: Vec<char> = s.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = compact[4..].iter().chain(&compact[..4]);
    let mut rem: u32 = 0;
    for c in rearranged {
        let v = c.to_digit(36).unwrap_or(0);
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// SSA rules: no area 000, 666 or 9xx, no group 00, no serial 0000.
pub fn ssn(s: &str) -> bool {
    let d = digits(s);
    if d.len() != 9 {
        return false;
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
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
        // Detectors read normalised text, where dashes are spaces.
        let text = crate::extract::normalise::normalise(
            "pay with 4111-1111-1111-1111 today, not 1234 5678 9012 3458",
            None,
        );
        card.find(&text, |_| n += 1);
        assert_eq!(n, 1);
    }
}
