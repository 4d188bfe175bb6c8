//! Table-driven cases for the built-in detectors: each line is written text
//! and whether the detector must find something in it.

use super::Builtin;
use crate::detect::layout::Layout;
use regex::Regex;

fn finds(b: Builtin, input: &str) -> bool {
    let layout = Layout::of(input);
    let re = Regex::new(b.pattern()).expect("built-in patterns compile");
    let text = layout.text.as_ref();
    let found = re.find_iter(text).any(|m| b.accept(text, m.range()));
    found
}

fn check(b: Builtin, cases: &[(&str, bool)]) {
    for (input, want) in cases {
        assert_eq!(finds(b, input), *want, "{b:?} on {input:?}");
    }
}

#[test]
fn ssn() {
    check(
        Builtin::Ssn,
        &[
            ("SSN 123-45-6789 on file", true),
            ("his number is 123 45 6789.", true),
            ("SSN: 123456789", true),
            ("Social Security Number 123456789", true),
            ("social security no. is 123456789", true),
            ("123456789 (SSN)", true),
            ("\u{FF11}\u{FF12}\u{FF13}\u{2010}\u{FF14}\u{FF15}\u{2010}\u{FF16}\u{FF17}\u{FF18}\u{FF19}", true),
            ("123\u{2013}45\u{2013}6789", true),
            ("123.45.6789", true),
            ("123.45-6789", false),
            ("12\u{200B}3-45-6789", true),
            // one separator throughout
            ("123-45 6789", false),
            ("123 45-6789", false),
            // bare digits without a keyword
            ("order 123456789 shipped", false),
            ("SSN 42 and then 123456789", false),
            // never-issued ranges
            ("000-12-3456", false),
            ("666-12-3456", false),
            ("900-12-3456", false),
            ("999-12-3456", false),
            ("123-00-4567", false),
            ("123-45-0000", false),
            // other numbers
            ("St Petersburg, FL 33710-3918", false),
            ("host 10.0.250.15:8080", false),
            ("10.123.45.6789", false),
            ("ref 1234-56-7890", false),
            ("call +1 123-45-6789-1", false),
            ("ids 12-123-45-6789", false),
            ("SSN 1234567890", false),
            ("SSN 0123456789", false),
            ("tel 555 123 45 6789", false),
            ("dated 2024-01-17 12:34:56", false),
        ],
    );
}

#[test]
fn card() {
    check(
        Builtin::Card,
        &[
            ("card 4111 1111 1111 1111 exp 12/27", true),
            ("4111-1111-1111-1111", true),
            ("4111.1111.1111.1111", true),
            ("4111.1111 1111.1111", false),
            ("4111111111111111", true),
            ("amex 3782 822463 10005", true),
            ("amex 3782-822463-10005", true),
            ("diners 3056 930902 5904", true),
            ("5500 0000 0000 0004", true),
            ("2223 0000 4841 0010", true),
            ("6011111111111117", true),
            ("3530 1113 3330 0000", true),
            ("4222222222222", true),
            ("4111 1111 1111 1111 110", true),
            ("\u{FF14}\u{FF11}\u{FF11}\u{FF11} 1111 1111 1111", true),
            ("4111\u{00A0}1111\u{00A0}1111\u{00A0}1111", true),
            (
                "\u{30AB}\u{30FC}\u{30C9}4111111111111111\u{3067}\u{3059}",
                true,
            ),
            // one separator, one line, one cell
            ("4111 1111-1111 1111", false),
            ("4111 1111\n1111 1111", false),
            ("4111 1111\r\n1111 1111", false),
            ("4111\t1111\t1111\t1111", false),
            ("4111 | 1111 | 1111 | 1111", false),
            ("4111,1111,1111,1111", false),
            // Luhn and issuer
            ("4111 1111 1111 1112", false),
            ("1234 5678 9012 3452", false),
            ("4111 1111 1111 1", false),
            // other numbers
            ("codes 440/460/640/660/670 and 4111/1111/1111/1111", false),
            ("$30,001 - $35,000 and 30,001-35,000", false),
            ("call +1 4111 1111 1111 1111", false),
            ("4111 1111 1111 1111 1111", false),
            ("ids 4111-1111-1111-1111-22", false),
            ("years 4000 4500 5000 5500 6000", false),
            ("token 4111111111111111x", false),
            ("tel (212) 555-0100, fax (212) 555-0199", false),
        ],
    );
}

#[test]
fn iban() {
    check(
        Builtin::Iban,
        &[
            ("IBAN GB82 WEST 1234 5698 7654 32.", true),
            ("GB82WEST12345698765432", true),
            ("DE89 3704 0044 0532 0130 00", true),
            ("FR14 2004 1010 0505 0001 3M02 606", true),
            ("NL91ABNA0417164300", true),
            // case, checksum, length, country
            ("gb82 west 1234 5698 7654 32", false),
            ("gb82west12345698765432", false),
            ("GB82 WEST 1234 5698 7654 33", false),
            ("GB82 WEST 1234 5698 7654 3", false),
            ("DE89 3704 0044 0532 0130 0", false),
            ("XX82WEST12345698765432", false),
            // inside a random token
            ("id=aGB82WEST12345698765432", false),
            ("key_GB82WEST12345698765432", false),
            ("GB82 WEST 1234\n5698 7654 32", false),
        ],
    );
}

#[test]
fn issuers() {
    use super::known_issuer;
    let cases: &[(&str, bool)] = &[
        ("4111111111111111", true),
        ("4222222222222", true),
        ("41111111111111", false),
        ("378282246310005", true),
        ("37828224631000", false),
        ("5500000000000004", true),
        ("550000000000000", false),
        ("1234567890123452", false),
        ("9111111111111111", false),
    ];
    for (digits, want) in cases {
        assert_eq!(known_issuer(digits.as_bytes()), *want, "{digits}");
    }
}
