//! Hostile and malformed input from RELIABILITY.md §1 (items 15–29, 38), run
//! through the library's `check` against the shipped example in `rules/`.
//! Each case states the verdict it must reach; where a case is ambiguous the
//! expected verdict is HOLD.

use matterwall::check::{check, Envelope, Verdict};
use matterwall::engine::Engine;
use std::sync::OnceLock;

fn config() -> &'static Engine {
    static CFG: OnceLock<Engine> = OnceLock::new();
    CFG.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/matterwall.toml");
        Engine::load(std::path::Path::new(path)).expect("the shipped rules load")
    })
}

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn run(raw: &str, to: &[&str]) -> Verdict {
    let env = Envelope {
        from: "a.partner@firm.example".into(),
        to: to.iter().map(|s| s.to_string()).collect(),
    };
    check(config(), &env, raw.as_bytes(), today())
}

fn ids(v: &Verdict) -> Vec<&str> {
    v.matches.iter().map(|m| m.id.as_str()).collect()
}

/// A single-part message with the given extra headers and body.
fn msg(headers: &str, body: &str) -> String {
    format!("From: a.partner@firm.example\r\nTo: x@outside.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n{headers}\r\n{body}\r\n")
}

const OUT: &[&str] = &["someone@outside.example"];

#[test]
fn detection_survives_encodings_and_evasions() {
    let cases: &[(&str, String, &str)] = &[
        ("plain", msg("Content-Type: text/plain\r\n", "About Harrowgate Shipping."), "C-10442"),
        ("line break", msg("", "About Harrowgate\r\n    Shipping."), "C-10442"),
        ("capitals", msg("", "HARROWGATE SHIPPING"), "C-10442"),
        ("matter spaced", msg("", "ref 2024 0117"), "2024-0117"),
        ("matter glued", msg("", "ref 20240117."), "2024-0117"),
        ("matter O for 0", msg("", "ref 2O24-O117"), "2024-0117"),
        ("matter full-width", msg("Content-Type: text/plain; charset=utf-8\r\n", "ref ２０２４‐０１１７"), "2024-0117"),
        ("matter en dash", msg("Content-Type: text/plain; charset=utf-8\r\n", "ref 2024–0117"), "2024-0117"),
        ("docket", msg("", "Case 1:23-cv-04512 filed"), "1:23-cv-04512"),
        ("docket no separators", msg("", "Case 123cv04512 filed"), "1:23-cv-04512"),
        ("slash matter dotted", msg("", "LIT.22.0931"), "LIT/22/0931"),
        ("zero width", msg("Content-Type: text/plain; charset=utf-8\r\n", "Harrow\u{200B}gate Ship\u{00AD}ping"), "C-10442"),
        ("cyrillic", msg("Content-Type: text/plain; charset=utf-8\r\n", "H\u{0430}rrowgate Shipping"), "C-10442"),
        ("combining accent", msg("Content-Type: text/plain; charset=utf-8\r\n", "Socie\u{0301}te\u{0301} Ge\u{0301}ne\u{0301}rale des Eaux de Lumie\u{0300}re"), "C-10445"),
        ("accents dropped", msg("", "Societe Generale des Eaux de Lumiere"), "C-10445"),
        ("qp soft break in name", msg("Content-Transfer-Encoding: quoted-printable\r\n", "Harrow=\r\ngate Shipping"), "C-10442"),
        ("qp soft break in matter", msg("Content-Transfer-Encoding: quoted-printable\r\n", "2024-=\r\n0117 and =ZZ =3d"), "2024-0117"),
        ("base64 with garbage", msg("Content-Transfer-Encoding: base64\r\n", "SGFy!cm93Z2F0*ZSBTaGlw\r\ncGluZw"), "C-10442"),
        ("encoded word split", msg("", "").replace("Subject: s", "Subject: =?utf-8?b?SGFycm93?= =?utf-8?q?gate_Shipping?="), "C-10442"),
        ("display name", msg("", "hi").replace("To: x@outside.example", "To: \"Harrowgate Shipping legal\" <x@outside.example>"), "C-10442"),
        ("html tags and entities", msg("Content-Type: text/html\r\n", "<p>Harrow<b>gate</b>&nbsp;Ship&#112;ing</p>"), "C-10442"),
        ("html numeric entities", msg("Content-Type: text/html\r\n", "&#72;&#97;rrowgate Shipping"), "C-10442"),
        ("html alt text only", msg("Content-Type: text/html\r\n", "<img alt='Harrowgate Shipping' src=cid:x>"), "C-10442"),
        ("html hidden", msg("Content-Type: text/html\r\n", "<span style='display:none'>Harrowgate Shipping</span>"), "C-10442"),
        ("rfc2231 filename", multipart_with_attachment("Content-Disposition: attachment;\r\n filename*0*=utf-8''Harrow;\r\n filename*1*=gate%20Shipping.txt", "c2VlIHRpdGxl"), "C-10442"),
        ("strong alias", msg("", "HSL Group board pack"), "C-10442"),
        ("weak alias corroborated", msg("", "HSL re 2023-0988"), "C-10442"),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, raw, want)| not_held(name, raw, |v| ids(v).contains(want)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `raw` sent to an outsider: `None` when it is held and `seen` holds of
/// its verdict, else the line a failing case reports.
fn not_held(name: &str, raw: &str, seen: impl Fn(&Verdict) -> bool) -> Option<String> {
    let v = run(raw, OUT);
    if seen(&v) && v.action.as_str() == "hold" {
        return None;
    }
    Some(format!(
        "{name}: action {} ids {:?} uninspectable {:?}",
        v.action.as_str(),
        ids(&v),
        v.uninspectable
    ))
}

#[test]
fn declared_charset_is_honoured() {
    let mut raw = b"From: a@firm.example\r\nSubject: s\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nEaux de Lumi".to_vec();
    raw.extend_from_slice(b"\xe8re\r\n");
    let env = Envelope {
        from: "a@firm.example".into(),
        to: vec!["x@outside.example".into()],
    };
    let v = check(config(), &env, &raw, today());
    assert!(ids(&v).contains(&"C-10445"), "{:?}", ids(&v));
}

#[test]
fn charset_tricks_are_decoded() {
    let utf16: Vec<u8> = "Harrowgate Shipping"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "utf-7",
            "utf-7",
            b"+AEgAYQByAHIAbwB3AGcAYQB0AGU- Shipping".to_vec(),
        ),
        ("utf-16le without BOM", "utf-16le", utf16),
        (
            "declared ascii, really utf-8",
            "us-ascii",
            "Harrowgate Shipping \u{2014} caf\u{e9}".as_bytes().to_vec(),
        ),
        (
            "unknown charset",
            "x-made-up",
            b"Harrowgate Shipping".to_vec(),
        ),
        (
            "iso-2022-jp",
            "iso-2022-jp",
            b"\x1b$B$3$s\x1b(B Harrowgate Shipping".to_vec(),
        ),
    ];
    for (name, charset, body) in cases {
        let mut raw = format!("From: a@firm.example\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: binary\r\n\r\n").into_bytes();
        raw.extend_from_slice(&body);
        let env = Envelope {
            from: "a@firm.example".into(),
            to: vec!["x@outside.example".into()],
        };
        let v = check(config(), &env, &raw, today());
        assert!(ids(&v).contains(&"C-10442"), "{name}: {:?}", ids(&v));
    }
}

#[test]
fn near_misses_do_not_match() {
    let cases: &[(&str, String)] = &[
        (
            "inside a word",
            msg("", "Harrowgate Shippingly and Harrowgate Shipping2"),
        ),
        (
            "other number same shape",
            msg("", "ref 2024-0118 and 2024-01171"),
        ),
        ("weak alias alone", msg("", "HSL is a common acronym")),
        ("clean", msg("", "Lunch on Friday?")),
    ];
    for (name, raw) in cases {
        let v = run(raw, OUT);
        assert!(
            v.matches.is_empty() && v.action.as_str() == "pass",
            "{name}: {:?}",
            ids(&v)
        );
    }
}

fn multipart_with_attachment(disposition: &str, b64: &str) -> String {
    format!(
        "From: a@firm.example\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n{disposition}\r\n\r\n{b64}\r\n--b1--\r\n"
    )
}

#[test]
fn ambiguous_mime_is_uninspectable_and_held() {
    let two_boundaries = "From: a@firm.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"one\"; boundary=\"two\"\r\n\r\n\
--one\r\nContent-Type: text/plain\r\n\r\nfirst view\r\n--two\r\nContent-Type: text/plain\r\n\r\nsecond view\r\n--two--\r\n--one--\r\n";
    let two_ctes = msg(
        "Content-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: quoted-printable\r\n",
        "SGFycm93Z2F0ZSBTaGlwcGluZw==",
    );
    let two_types = msg(
        "Content-Type: text/plain\r\nContent-Type: application/octet-stream\r\n",
        "hello",
    );
    // x-uuencode is decoded since issue 12 (fidelity.rs); x-binhex is not.
    let unknown_cte = msg(
        "Content-Transfer-Encoding: x-binhex\r\n",
        "begin 644 secret\r\n`\r\nend",
    );
    for (name, raw) in [
        ("two boundaries", two_boundaries.to_string()),
        ("two CTEs", two_ctes),
        ("two types", two_types),
        ("unknown CTE", unknown_cte),
    ] {
        let v = run(&raw, OUT);
        assert!(!v.uninspectable.is_empty(), "{name}: nothing flagged");
        assert_eq!(v.action.as_str(), "hold", "{name}: {:?}", v.rules);
        let internal = run(&raw, &["colleague@firm.example"]);
        assert_eq!(
            internal.action.as_str(),
            "pass",
            "{name}: internal mail is not held for this"
        );
    }
}

#[test]
fn union_of_views_finds_what_either_reading_shows() {
    // Base64 first, QP last: mail-parser honours the last; clients the first.
    let raw = msg(
        "Content-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: quoted-printable\r\n",
        "SGFycm93Z2F0ZSBTaGlwcGluZw==",
    );
    assert!(ids(&run(&raw, OUT)).contains(&"C-10442"));
}

#[test]
fn unterminated_multipart_is_still_inspected() {
    let raw = "From: a@firm.example\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\nNotes about Harrowgate Shipping follow.\r\n";
    let v = run(raw, OUT);
    assert!(ids(&v).contains(&"C-10442"));
    assert_eq!(v.action.as_str(), "hold");
}

#[test]
fn deep_nesting_is_bounded() {
    for depth in [100usize, 10_000] {
        let mut raw = String::from("From: a@firm.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n");
        for i in 0..depth {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        raw.push_str("Content-Type: text/plain\r\n\r\nHarrowgate Shipping\r\n");
        for i in (0..depth).rev() {
            raw.push_str(&format!("--b{i}--\r\n"));
        }
        let v = run(&raw, OUT);
        assert_eq!(v.action.as_str(), "hold", "depth {depth}: {:?}", v.rules);
    }
}

#[test]
fn garbage_never_panics_and_is_deterministic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in [0usize, 1, 17, 1000, 65_536] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let env = Envelope {
            from: "a@firm.example".into(),
            to: vec!["x@outside.example".into()],
        };
        let a = check(config(), &env, &bytes, today());
        let b = check(config(), &env, &bytes, today());
        assert_eq!(a.action, b.action);
        assert_eq!(a.uninspectable, b.uninspectable);
    }
}

#[test]
fn envelope_decides_not_headers() {
    // The To header says internal; the envelope adds an outsider (Bcc).
    let raw = msg("", "Harrowgate Shipping strategy")
        .replace("To: x@outside.example", "To: colleague@firm.example");
    let v = run(&raw, &["colleague@firm.example", "leak@outside.example"]);
    assert_eq!(v.action.as_str(), "hold");
    assert_eq!(v.recipients[1].status, "unauthorised");
}

/// RELIABILITY §1 item 16, the header forms the test above leaves out:
/// group syntax, a Cc that differs from the envelope, and a To header of
/// 10,000 addresses. The envelope decides each way: an outsider only in
/// it is held; an outsider only in the headers is not a recipient.
#[test]
fn no_header_form_overrides_the_envelope() {
    let body = "Harrowgate Shipping strategy";
    let with_to = |to: &str| msg("", body).replace("To: x@outside.example", to);
    let many: Vec<String> = (0..10_000).map(|n| format!("c{n}@firm.example")).collect();
    let cases = [
        ("group syntax", with_to("To: undisclosed-recipients:;")),
        (
            "a named group",
            with_to("To: Team: colleague@firm.example;"),
        ),
        (
            "a differing Cc",
            with_to("To: colleague@firm.example\r\nCc: other@firm.example"),
        ),
        (
            "10,000 addresses in To",
            with_to(&format!("To: {}", many.join(",\r\n "))),
        ),
    ];
    for (name, raw) in &cases {
        let v = run(raw, &["colleague@firm.example", "leak@outside.example"]);
        assert_eq!(v.action.as_str(), "hold", "{name}");
        assert_eq!(v.recipients.len(), 2, "{name}: the envelope's two");
        assert_eq!(v.recipients[1].status, "unauthorised", "{name}");
        let internal = run(raw, &["colleague@firm.example"]);
        assert_eq!(
            internal.action.as_str(),
            "pass",
            "{name}: headers add no recipient"
        );
    }
    let outsider_in_cc = with_to("To: colleague@firm.example\r\nCc: leak@outside.example");
    let v = run(&outsider_in_cc, &["colleague@firm.example"]);
    assert_eq!(
        v.action.as_str(),
        "pass",
        "an outsider only in Cc got nothing"
    );
}

#[test]
fn hostile_envelope_addresses_are_held() {
    let raw = msg("", "Lunch on Friday?");
    for addr in [
        "a@evil.test@firm.example",
        "\"a@firm.example\"@evil.test",
        "@firm.example:a@evil.test",
        "a%evil.test@firm.example",
        "a@[192.0.2.1]",
    ] {
        let v = run(&raw, &[addr]);
        assert_eq!(v.recipients[0].status, "unparseable", "{addr}");
        assert_eq!(v.action.as_str(), "hold", "{addr}");
    }
    let v = run(&raw, &["Someone@FIRM.EXAMPLE."]);
    assert_eq!(v.recipients[0].address, "someone@firm.example");
    assert_eq!(v.action.as_str(), "pass");
}

#[test]
fn lookalikes_are_held_even_without_mentions() {
    let raw = msg("", "Please confirm the bank details.");
    let cyrillic = idna::domain_to_ascii("h\u{0430}rrowgate-shipping.com").unwrap();
    for domain in [
        "harrowgate-shiping.com",
        "harrowgate-shipping.co",
        "harrowgate-shipplng.com",
        cyrillic.as_str(),
    ] {
        let v = run(&raw, &[&format!("ceo@{domain}")]);
        assert_eq!(v.recipients[0].status, "lookalike", "{domain}");
        assert_eq!(v.action.as_str(), "hold", "{domain}");
    }
    let v = run(
        &raw,
        &[
            "ceo@harrowgate-shipping.com",
            "x@sub.harrowgate-shipping.com",
        ],
    );
    assert_eq!(v.action.as_str(), "pass");
}

#[test]
fn authorisation_per_client_and_matter() {
    let harrowgate = msg("", "Harrowgate Shipping: 2024-0117 hearing");
    // Client's own domain and subdomain: authorised; the key decides encrypt vs hold.
    assert_eq!(
        run(&harrowgate, &["legal@harrowgate-shipping.com"])
            .action
            .as_str(),
        "encrypt"
    );
    assert_eq!(
        run(&harrowgate, &["legal@sub.harrowgate-shipping.com"]).recipients[0].status,
        "authorised"
    );
    // Co-counsel on 2024-0117 is authorised for that matter…
    assert_eq!(
        run(&harrowgate, &["clerk@chambers-ten.co.uk"]).recipients[0].status,
        "authorised"
    );
    // …but not for the client's other matter.
    let other = msg("", "Harrowgate Shipping: 2023-0988 refinancing");
    assert_eq!(
        run(&other, &["clerk@chambers-ten.co.uk"]).recipients[0].status,
        "unauthorised"
    );
    // Another client's matter to this client: unauthorised.
    let cross = msg("", "Brightwater LIT/22/0931");
    assert_eq!(
        run(&cross, &["legal@harrowgate-shipping.com"]).recipients[0].status,
        "unauthorised"
    );
    // An active domain waiver authorises; an expired one does not.
    assert_eq!(
        run(&harrowgate, &["partner@auditors.example"]).recipients[0].status,
        "authorised"
    );
    let bright = msg("", "Brightwater Pharma update");
    assert_eq!(
        run(&bright, &["j.doe@consultant.example"]).recipients[0].status,
        "unauthorised"
    );
}

#[test]
fn ethical_walls() {
    let raw = msg("", "Okonkwo status: 1:23-cv-04512");
    let v = run(&raw, &["p.lee@firm.example"]);
    assert_eq!(v.recipients[0].status, "screened");
    assert_eq!(v.rule_names(), vec!["ethical-wall"]);
    let env = Envelope {
        from: "p.lee@firm.example".into(),
        to: vec!["b@firm.example".into()],
    };
    let v = check(config(), &env, raw.as_bytes(), today());
    assert!(v.sender.screened);
    assert_eq!(v.action.as_str(), "hold");
}

#[test]
fn monitor_rules_report_without_acting() {
    let raw = msg("", "card 4111 1111 1111 1111");
    let v = run(&raw, OUT);
    assert_eq!(v.action.as_str(), "pass");
    assert_eq!(
        v.monitor.iter().map(|r| &r.name).collect::<Vec<_>>(),
        vec!["personal-data-external"]
    );
}

// ---- §1.39: real mail must not trip detection (issue 12) -------------------

/// The shipped rules with a dense matters dictionary: every `YYYY-NNNN` and
/// `LIT/YY/NNNN` for 2019–2026, plus `M-YYYY-NNNN`, `MNNNNNN` and docket
/// numbers (the shapes the corpus uses), so that almost every time and date
/// has a matter of the same digits.
fn dense_config() -> &'static Engine {
    static CFG: OnceLock<Engine> = OnceLock::new();
    CFG.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mw-dense-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
        for f in ["matterwall.toml", "clients.csv", "waivers.csv"] {
            std::fs::copy(format!("{rules}/{f}"), dir.join(f)).unwrap();
        }
        copy_dir(&format!("{rules}/certs"), &dir.join("certs"));
        let mut csv =
            String::from("matter_number,client_id,description,cocounsel_domains,screened\n");
        for year in 2019..=2026 {
            for n in 0..10_000 {
                csv.push_str(&format!("{year}-{n:04},C-10442,d,,\n"));
                csv.push_str(&format!("LIT/{:02}/{n:04},C-10443,d,,\n", year % 100));
            }
            for n in (0..10_000).step_by(7) {
                csv.push_str(&format!("M-{year}-{n:04},C-10445,d,,\n"));
            }
        }
        for n in (0..1_000_000).step_by(97) {
            csv.push_str(&format!("M{n:06},C-10446,d,,\n"));
        }
        for court in 1..=9 {
            for n in (0..100_000).step_by(101) {
                csv.push_str(&format!("{court}:24-cv-{n:05},C-10444,d,,\n"));
            }
        }
        std::fs::write(dir.join("matters.csv"), csv).unwrap();
        Engine::load(&dir.join("matterwall.toml")).expect("the dense dictionary loads")
    })
}

fn copy_dir(from: &str, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn run_dense(raw: &str) -> Verdict {
    let env = Envelope {
        from: "a.partner@firm.example".into(),
        to: OUT.iter().map(|s| s.to_string()).collect(),
    };
    check(dense_config(), &env, raw.as_bytes(), today())
}

/// Reply and forward headers as Outlook, Gmail, Apple Mail and Thunderbird
/// write them in several locales; `{d}` `{m}` `{y}` `{H}` `{M}` are the day,
/// month, year, hour and minute, `{h}` the 12-hour hour, `{yy}` the year's
/// last two digits.
const REPLY_HEADERS: &[&str] = &[
    "From: A Partner\r\nSent: Wednesday, {d} January {y} {H}:{M}\r\nTo: B\r\nSubject: RE: draft",
    "Sent: Wednesday, January {d}, {y} {h}:{M} AM",
    "Envoy\u{e9} : mercredi {d} janvier {y} {H}:{M}",
    "Gesendet: Mittwoch, {d}. Januar {y} {H}:{M}",
    "Verzonden: woensdag {d} januari {y} {H}:{M}",
    "Enviado el: mi\u{e9}rcoles, {d} de enero de {y} {H}:{M}",
    "Sent: {y}-{m}-{d} {H}:{M}",
    "On Wed, {d} Jan {y} at {H}:{M}, A Partner <a@x.example> wrote:",
    "On Wed, Jan {d}, {y} at {h}:{M}\u{202F}AM A Partner <a@x.example> wrote:",
    "Le mer. {d} janv. {y} \u{e0} {H}:{M}, A Partner <a@x.example> a \u{e9}crit :",
    "Am Mi., {d}. Jan. {y} um {H}:{M} Uhr schrieb A Partner <a@x.example>:",
    "El mi\u{e9}, {d} ene {y} a las {H}:{M}, A Partner (<a@x.example>) escribi\u{f3}:",
    "---------- Forwarded message ---------\r\nFrom: A <a@x.example>\r\nDate: Wed, {d} Jan {y} at {H}:{M}\r\nSubject: x",
    "On {d} Jan {y}, at {H}:{M}, A Partner <a@x.example> wrote:",
    "Le {d} janv. {y} \u{e0} {H}:{M}, A Partner <a@x.example> a \u{e9}crit :",
    "Am {d}.{m}.{y} um {H}:{M} schrieb A Partner <a@x.example>:",
    "On {d}/{m}/{y} {H}:{M}, A Partner wrote:",
    "On {m}/{d}/{yy} {h}:{M} AM, A Partner wrote:",
    "Am {d}.{m}.{yy} um {H}:{M} schrieb A Partner:",
    "On {y}-{m}-{d} {H}:{M}, A Partner wrote:",
    "-------- Original Message --------\r\nSubject: x\r\nDate: Wed, {d} Jan {y} {H}:{M}:05 +0100",
    "Op wo 17 jan. {y} om {H}:{M} schreef A Partner <a@x.example>:",
    "Il giorno mer {d} gen {y} alle ore {H}:{M} A Partner <a@x.example> ha scritto:",
    "\u{9001}\u{4fe1}\u{65e5}\u{6642}: {y}\u{5e74}{m}\u{6708}{d}\u{65e5} {H}:{M}",
];

fn fill(template: &str, day: u32, month: u32, year: u32, hour: u32, minute: u32) -> String {
    let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    template
        .replace("{d}", &day.to_string())
        .replace("{m}", &format!("{month:02}"))
        .replace("{yy}", &format!("{:02}", year % 100))
        .replace("{y}", &year.to_string())
        .replace("{H}", &format!("{hour:02}"))
        .replace("{h}", &h12.to_string())
        .replace("{M}", &format!("{minute:02}"))
}

#[test]
fn reply_headers_are_not_matter_numbers() {
    // Every minute of a day, on a few dates, in every template: one message
    // per template and year, so a failure names its template.
    for template in REPLY_HEADERS {
        for year in [2019, 2024, 2026] {
            let mut body = String::new();
            for hour in 0..24 {
                for minute in 0..60 {
                    let (day, month) = (1 + (hour + minute) % 28, 1 + minute % 12);
                    body.push_str(&fill(template, day, month, year, hour, minute));
                    body.push_str("\r\n\r\n");
                }
            }
            let raw = msg("Content-Type: text/plain; charset=utf-8\r\n", &body);
            let v = run_dense(&raw);
            let found: Vec<String> = v
                .matches
                .iter()
                .map(|m| format!("{} {:?}", m.id, m.text))
                .collect();
            assert!(found.is_empty(), "{template:?} {year}: {found:?}");
        }
    }
}

#[test]
fn other_numbers_are_not_matter_numbers() {
    let body = "Call +44 20 2024 0117 or 020 2024 0117 or (020) 2024 0117.\r\n\
        Totals: 12 345, 1.234.567 and 2,024,0117.\r\n\
        Dates: 2024-01-17, 17.01.2024, 2024/01/17, 01/17/2024, 20:24 01:17.\r\n\
        Times: 2024 01:17; 2024:0117; build 2024.01.17.1";
    let v = run_dense(&msg("", body));
    assert!(v.matches.is_empty(), "{:?}", ids(&v));
}

#[test]
fn dense_dictionary_still_finds_matter_variants() {
    let cases: &[(&str, &str)] = &[
        ("ref 2024-0117.", "2024-0117"),
        ("ref 2024 0117", "2024-0117"),
        ("ref 20240117", "2024-0117"),
        ("ref 2024/0117", "2024-0117"),
        ("ref 2024.0117", "2024-0117"),
        ("ref 2024_0117", "2024-0117"),
        (
            "ref \u{FF12}\u{FF10}\u{FF12}\u{FF14}\u{2010}\u{FF10}\u{FF11}\u{FF11}\u{FF17}",
            "2024-0117",
        ),
        ("ref 2024\u{2013}0117", "2024-0117"),
        ("ref 2024\u{2011}0117", "2024-0117"),
        ("ref 2O24-O117", "2024-0117"),
        ("ref 2024-\r\n0117", "2024-0117"),
        ("ref LIT.24.0117", "LIT/24/0117"),
        ("ref M-2024-0119", "M-2024-0119"),
        ("ref M 2024 0119", "M-2024-0119"),
        ("ref 3:24-cv-00101", "3:24-cv-00101"),
        ("ref 324cv00101", "3:24-cv-00101"),
    ];
    for (body, want) in cases {
        let raw = msg("Content-Type: text/plain; charset=utf-8\r\n", body);
        let v = run_dense(&raw);
        assert!(ids(&v).contains(want), "{body:?}: {:?}", ids(&v));
    }
}

/// Ordinary mail that the built-in detectors used to flag: with the
/// personal-data rule in monitor mode, a detector hit shows in `matches`.
#[test]
fn ordinary_numbers_are_not_personal_data() {
    let cases: &[(&str, &str)] = &[
        ("zip+4", "Ship to 100 Main St, St Petersburg, FL 33710-3918"),
        ("ip and port", "proxy at 10.20.250.15:8080 is down"),
        ("longer run", "order 1234567890123 and ref 98765432101"),
        ("nine bare digits", "tracking 123456789 arrives Monday"),
        ("mixed separators", "ref 123-45 6789"),
        ("codes", "codes 440/460/640/660/670"),
        ("amounts", "salary band $30,001 - $35,000 and 4111 - $1111"),
        ("phone", "call +1 4111 1111 1111 1111 or (212) 555-0100"),
        ("lines", "4111 1111\r\n1111 1111"),
        ("cells", "4111\t1111\t1111\t1111"),
        ("lower-case iban", "token gb82west12345698765432 expires"),
        ("random token", "id=aGB82WEST12345698765432"),
        ("wrong length", "DE89 3704 0044 0532 0130 0"),
    ];
    for (name, body) in cases {
        let v = run(&msg("", body), OUT);
        assert!(
            v.matches.is_empty() && v.monitor.is_empty(),
            "{name}: {:?}",
            v.matches
        );
    }
    let html = "Content-Type: text/html\r\n";
    let table = "<table><tr><td>4111</td><td>1111</td><td>1111</td><td>1111</td></tr></table>";
    let v = run(&msg(html, table), OUT);
    assert!(v.matches.is_empty(), "table cells: {:?}", v.matches);
}

#[test]
fn personal_data_in_its_real_shapes_is_found() {
    let cases: &[(&str, &str)] = &[
        ("SSN 123-45-6789", "us-ssn"),
        ("ssn: 123 45 6789", "us-ssn"),
        ("Social Security Number: 123456789", "us-ssn"),
        ("card 4111-1111-1111-1111 exp 12/27", "payment-card"),
        ("amex 3782 822463 10005", "payment-card"),
        ("4111111111111111", "payment-card"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "iban"),
        ("IBAN DE89370400440532013000", "iban"),
    ];
    for (body, want) in cases {
        let v = run(
            &msg("Content-Type: text/plain; charset=utf-8\r\n", body),
            OUT,
        );
        let kinds: Vec<&str> = v.matches.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, vec![*want], "{body}");
        assert_eq!(
            v.monitor.iter().map(|r| &r.name).collect::<Vec<_>>(),
            vec!["personal-data-external"],
            "{body}"
        );
    }
    // Full-width digits and a Unicode dash are the same number.
    let v = run(
        &msg(
            "Content-Type: text/plain; charset=utf-8\r\n",
            "SSN \u{FF11}\u{FF12}\u{FF13}\u{2011}45\u{2011}6789",
        ),
        OUT,
    );
    assert_eq!(v.matches.len(), 1, "{:?}", v.matches);
    assert_eq!(
        v.matches[0].text,
        "\u{FF11}\u{FF12}\u{FF13}\u{2011}45\u{2011}6789"
    );
}

/// §1 17: the Composition Kills / espoofer shapes of From, To and Cc
/// (several From, a space before the colon, folding, encoded words,
/// quoted-pairs, an address as the display name, a NUL byte). The envelope
/// decides who receives, so what these shapes can do to a DLP filter is
/// hide a client's name that the recipient's client will still display.
/// Each case carries a client's name only in such a header, to an outsider:
/// the verdict must be the same twice and must hold.
#[test]
fn composition_kills_headers_do_not_hide_a_name() {
    const BASE: &str = "To: x@outside.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n";
    let cases: &[(&str, String)] = &[
        ("several From", format!("From: a.partner@firm.example\r\nFrom: \"Harrowgate Shipping\" <a.partner@firm.example>\r\n{BASE}\r\nhi\r\n")),
        ("space before colon", format!("From : \"Harrowgate Shipping\" <a.partner@firm.example>\r\n{BASE}\r\nhi\r\n")),
        ("folded display name", format!("From: \"Harrowgate\r\n Shipping\" <a.partner@firm.example>\r\n{BASE}\r\nhi\r\n")),
        ("encoded display name", format!("From: =?utf-8?q?Harrowgate_Shipping?= <a.partner@firm.example>\r\n{BASE}\r\nhi\r\n")),
        ("encoded, base64", format!("From: =?UTF-8?B?SGFycm93Z2F0ZSBTaGlwcGluZw==?= <a.partner@firm.example>\r\n{BASE}\r\nhi\r\n")),
        ("quoted-pair", format!("From: \"Harrow\\gate Ship\\ping\" <a.partner@firm.example>\r\n{BASE}\r\nhi\r\n")),
        ("name in a comment", format!("From: a.partner@firm.example (Harrowgate Shipping)\r\n{BASE}\r\nhi\r\n")),
        ("address as display name", "From: a.partner@firm.example\r\nTo: \"ops@harrowgate-shipping.example Harrowgate Shipping\" <x@outside.example>\r\nSubject: s\r\n\r\nhi\r\n".to_string()),
        ("several To", "From: a.partner@firm.example\r\nTo: x@outside.example\r\nTo: \"Harrowgate Shipping\" <x@outside.example>\r\nSubject: s\r\n\r\nhi\r\n".to_string()),
        ("several Cc, folded", format!("From: a.partner@firm.example\r\n{BASE}Cc: y@outside.example\r\nCc: \"Harrowgate\r\n\tShipping\" <y@outside.example>\r\n\r\nhi\r\n")),
        ("NUL in the display name", format!("From: \"Harrow\0gate Shipping\" <a.partner@firm.example>\r\n{BASE}\r\nhi\r\n")),
    ];
    // The same headers without the name pass: a hold below is the name's.
    let control = format!("From: a.partner@firm.example\r\n{BASE}\r\nhi\r\n");
    assert_eq!(run(&control, OUT).action.as_str(), "pass");
    let mut failures = Vec::new();
    for (name, raw) in cases {
        let v = run(raw, OUT);
        if !ids(&v).contains(&"C-10442") && v.uninspectable.is_empty() {
            failures.push(format!(
                "{name}: the name is neither found nor the header flagged"
            ));
        }
        let again = run(raw, OUT);
        let json = |v: &Verdict| serde_json::to_string(v).unwrap();
        if json(&v) != json(&again) {
            failures.push(format!("{name}: two verdicts"));
        }
        if v.action.as_str() != "hold" {
            failures.push(format!(
                "{name}: {} (matches {:?}, flags {:?})",
                v.action.as_str(),
                ids(&v),
                v.uninspectable
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A multipart/mixed message with `parts` (each its headers, a blank line
/// and its body) between `--b` lines, and then `after` past the close.
fn mixed(parts: &[&str], after: &str) -> String {
    let mut raw = String::from(
        "From: a@firm.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
    );
    for p in parts {
        raw.push_str(&format!("--b\r\n{p}\r\n"));
    }
    raw.push_str(&format!("--b--\r\n{after}"));
    raw
}

/// RELIABILITY §1 items 18–29 and 34, the forms the first table leaves
/// out: each hides the client's name where a mail client still shows it
/// (an attribute, one alternative, a file name in encoded words, the
/// other order of two encodings, past the padding, a part the outer
/// boundary only seems to end, a part after the close), so each must be
/// found and held.
#[test]
fn names_in_the_rest_of_the_places_clients_show_them_are_found() {
    let name_b64 = "SGFycm93Z2F0ZSBTaGlwcGluZw==";
    let cases: &[(&str, String)] = &[
        ("html title only", msg("Content-Type: text/html\r\n", "<p title='Harrowgate Shipping'>see the notes</p>")),
        ("html alternative only", String::from(
            "From: a@firm.example\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
             --alt\r\nContent-Type: text/plain\r\n\r\nSee the notes.\r\n\
             --alt\r\nContent-Type: text/html\r\n\r\n<p>See the notes on Harrowgate Shipping.</p>\r\n--alt--\r\n")),
        ("encoded words in a quoted display name", msg("", "hi").replace(
            "To: x@outside.example",
            "To: \"=?utf-8?q?Harrow?= =?utf-8?q?gate_Shipping?=\" <x@outside.example>")),
        ("encoded word in filename=", multipart_with_attachment(
            "Content-Disposition: attachment; filename=\"=?utf-8?b?SGFycm93Z2F0ZSBTaGlwcGluZy5wZGY=?=\"", "c2VlIHRpdGxl")),
        ("encoded words split in filename=", multipart_with_attachment(
            "Content-Disposition: attachment;\r\n filename=\"=?utf-8?b?SGFycm93?= =?utf-8?b?Z2F0ZSBTaGlwcGluZy5wZGY=?=\"", "c2VlIHRpdGxl")),
        ("filename* against name=", mixed(&[
            "Content-Type: text/plain\r\n\r\nSee attached.",
            "Content-Type: application/octet-stream; name=\"Harrowgate Shipping.bin\"\r\n\
             Content-Disposition: attachment; filename*=utf-8''notes.bin\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF",
        ], "")),
        ("filename against filename*", mixed(&[
            "Content-Type: text/plain\r\n\r\nSee attached.",
            "Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"notes.bin\";\r\n filename*=utf-8''Harrowgate%20Shipping.bin\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF",
        ], "")),
        // The same inside a forwarded message: its parts' offsets are the
        // outer message's, its bytes its own (`extract::raw_between`).
        ("filename* in a forwarded message", mixed(&[
            "Content-Type: text/plain\r\n\r\nForwarding.",
            &format!("Content-Type: message/rfc822\r\n\r\n{}", mixed(&[
                "Content-Type: text/plain\r\n\r\nSee attached.",
                "Content-Type: application/octet-stream\r\n\
                 Content-Disposition: attachment; filename=\"notes.bin\";\r\n filename*=utf-8''Harrowgate%20Shipping.bin\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF",
            ], "").replace("boundary=\"b\"", "boundary=\"inner\"").replace("--b", "--inner")),
        ], "")),
        ("quoted-printable then base64", msg(
            "Content-Transfer-Encoding: quoted-printable\r\nContent-Transfer-Encoding: base64\r\n", name_b64)),
        // "hi,\n" then the name, each encoded with its own padding.
        ("data after the padding", msg("Content-Transfer-Encoding: base64\r\n", &format!("aGksCg=={name_b64}"))),
        ("outer boundary a prefix of the inner one", mixed(&[
            "Content-Type: multipart/alternative; boundary=\"b-in\"\r\n\r\n\
             --b-in\r\nContent-Type: text/plain\r\n\r\nNotes on Harrowgate Shipping.\r\n--b-in--",
        ], "")),
        ("a part after the closing boundary", mixed(
            &["Content-Type: text/plain\r\n\r\nhello"],
            "--b\r\nContent-Type: text/plain\r\n\r\nNotes on Harrowgate Shipping.\r\n--b--\r\n",
        )),
        // mail-parser reads this Date on a bare LF on over the blank line,
        // and the body was gone (found in the SpamAssassin corpus).
        ("a Date ending in UT, bare LF", String::from(
            "From: a@firm.example\nSubject: s\nDate: Sun, 25 Aug 2002 16:50:54 UT\n\nfirst line\nNotes on Harrowgate Shipping.\n")),
        ("uuencode in text/plain", msg("Content-Type: text/plain\r\n",
            "See below.\r\n\r\nbegin 644 notes.txt\r\n<3F]T97,@;VX@2&%R<F]W9V%T92!3:&EP<&EN9P  \r\n`\r\nend")),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, raw)| not_held(name, raw, |v| ids(v).contains(&"C-10442")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// RELIABILITY §1 items 28, 29 and 34: what cannot be read whole is held
/// for an outsider (found, or flagged as uninspectable): a message
/// nested 50 deep, a multipart that names no boundary, a yEnc file inside
/// text, a PGP-encrypted attachment and a PGP/MIME encrypted message.
#[test]
fn what_cannot_be_read_whole_is_held() {
    let mut deep = String::new();
    for _ in 0..50 {
        deep.push_str("From: a@firm.example\r\nSubject: fwd\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    deep.push_str("From: a@firm.example\r\nSubject: s\r\n\r\nNotes on Harrowgate Shipping.\r\n");
    let armored = "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA3ZlcnkgY29uZmlkZW50aWFsAQf/dGhpcyBpcyBub3QgcmVhbCBjaXBoZXJ0ZXh0\r\n=abcd\r\n-----END PGP MESSAGE-----";
    let cases: &[(&str, String)] = &[
        ("message/rfc822 50 deep", deep),
        ("multipart without a boundary", msg(
            "Content-Type: multipart/mixed\r\n",
            "--x\r\nContent-Type: text/plain\r\n\r\nNotes on Harrowgate Shipping.\r\n--x--")),
        ("yEnc inside text/plain", msg("Content-Type: text/plain\r\n",
            "The file:\r\n=ybegin line=128 size=5 name=notes.bin\r\nrstuv\r\n=yend size=5")),
        ("PGP-encrypted attachment", mixed(&[
            "Content-Type: text/plain\r\n\r\nThe notes, encrypted.",
            &format!("Content-Type: application/octet-stream; name=\"notes.txt.asc\"\r\n\
                      Content-Disposition: attachment; filename=\"notes.txt.asc\"\r\n\r\n{armored}"),
        ], "")),
        ("PGP/MIME encrypted message", format!(
            "From: a@firm.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"e\"\r\n\r\n\
             --e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\
             --e\r\nContent-Type: application/octet-stream\r\n\r\n{armored}\r\n--e--\r\n")),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, raw)| {
            not_held(name, raw, |v| {
                ids(v).contains(&"C-10442") || !v.uninspectable.is_empty()
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
