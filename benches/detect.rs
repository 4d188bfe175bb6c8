//! Detection benchmark (not a test): a generated dictionary of 100,000
//! clients (two aliases each, a third of them weak) and 1,000,000 matters;
//! reports load + build time, resident bytes per dictionary entry, the detect
//! stage's throughput on one core over 1 MB and 10 MB of text, and the time of
//! a whole `check` on a 1 MB message.
//!
//! Run: `cargo bench --bench detect` (sizes: MW_CLIENTS, MW_MATTERS).

use matterwall::check::{check, Envelope};
use matterwall::config::Config;
use matterwall::engine::Engine;
use matterwall::text::normalise::normalise;
use std::fmt::Write as _;
use std::time::Instant;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SYLLABLES: &[&str] = &[
    "har", "row", "gate", "quin", "ver", "mont", "sil", "bri", "wat", "ford", "lum", "ast", "tel",
    "dor", "kes", "cad", "nor", "vel", "tam", "rind",
];
const SUFFIXES: &[&str] = &[
    "Shipping Ltd",
    "Holdings",
    "Capital Partners LLP",
    "Energy SA",
    "Telecom",
    "Insurance Group",
    "Biotech Inc",
    "Estates",
];
const WORDS: &[&str] = &[
    "the",
    "agreement",
    "hearing",
    "court",
    "we",
    "please",
    "confirm",
    "schedule",
    "draft",
    "of",
    "and",
    "to",
    "in",
    "client",
    "terms",
    "report",
    "expert",
    "evidence",
    "on",
    "by",
    "2024",
    "section",
    "12",
    "fees",
    "invoice",
    "meeting",
    "Monday",
    "counsel",
];

fn word(rng: &mut Rng) -> String {
    let n = 2 + rng.below(3);
    let mut w: String = (0..n)
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
        .collect();
    w[..1].make_ascii_uppercase();
    w
}

fn dictionaries(dir: &std::path::Path, clients: usize, matters: usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut c = String::from("client_id,name,aliases,domains\n");
    for i in 0..clients {
        let (a, b) = (word(&mut rng), word(&mut rng));
        let suffix = SUFFIXES[rng.below(SUFFIXES.len())];
        let weak = if i % 3 == 0 {
            format!("; ~{}{}", &a[..1], &b[..1])
        } else {
            String::new()
        };
        writeln!(
            c,
            "C-{i},{a} {b} {suffix},{a} {b}; {a}{b}{weak},{}-{}.example",
            a.to_lowercase(),
            b.to_lowercase()
        )
        .unwrap();
    }
    std::fs::write(dir.join("clients.csv"), c).unwrap();
    let mut m = String::from("matter_number,client_id,description,cocounsel_domains,screened\n");
    for i in 0..matters {
        let client = rng.below(clients);
        let number = match i % 3 {
            0 => format!("{}-{:06}", 2000 + i % 26, i),
            1 => format!("LIT/{}/{:06}", 10 + i % 15, i),
            _ => format!("{}:{}-cv-{:06}", 1 + i % 9, 10 + i % 15, i),
        };
        writeln!(m, "{number},C-{client},Matter {i},,").unwrap();
    }
    std::fs::write(dir.join("matters.csv"), m).unwrap();
    std::fs::write(
        dir.join("waivers.csv"),
        "client_id,recipient,expires,reference\n",
    )
    .unwrap();
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/matterwall.toml"
    ))
    .unwrap();
    let toml = toml.split("[[example]]").next().unwrap().to_string();
    std::fs::write(dir.join("matterwall.toml"), toml).unwrap();
}

/// Prose of `bytes` length with a mention roughly every 50 KB.
fn text(bytes: usize) -> String {
    let mut rng = Rng(42);
    let mut s = String::with_capacity(bytes + 64);
    while s.len() < bytes {
        s.push_str(WORDS[rng.below(WORDS.len())]);
        s.push(if rng.below(12) == 0 { '\n' } else { ' ' });
        if rng.below(8000) == 0 {
            s.push_str("re 2011-000011 ");
        }
    }
    s
}

/// Each matcher alone over the same normalised text.
fn stages(cfg: &Config, t: &str) {
    use matterwall::detect::{matter::MatterIndex, names::NameMatcher, pattern::PatternDetector};
    let n = normalise(t, None);
    let mb = n.len() as f64 / 1e6;
    let names = NameMatcher::build(&cfg.dict).unwrap();
    let matters = MatterIndex::build(&cfg.dict.matters);
    let mut hits = Vec::new();
    let s = Instant::now();
    names.find(&n, &mut hits);
    println!(
        "   client names alone: {:.0} MB/s",
        mb / s.elapsed().as_secs_f64()
    );
    let s = Instant::now();
    matters.find(&n, &mut hits);
    println!(
        "   matter numbers alone: {:.0} MB/s",
        mb / s.elapsed().as_secs_f64()
    );
    let all: Vec<PatternDetector> = ["ssn", "card", "iban"]
        .iter()
        .map(|b| PatternDetector::new(b, Some(b), None, None).unwrap())
        .collect();
    let set = regex::RegexSet::new(all.iter().map(PatternDetector::pattern)).unwrap();
    let s = Instant::now();
    // Built-ins read the layout text, which for ASCII text is the text.
    let which = set.matches(t).iter().count();
    println!(
        "   which detectors apply (one RegexSet pass, {which} do): {:.0} MB/s",
        mb / s.elapsed().as_secs_f64()
    );
    for b in ["ssn", "card", "iban"] {
        let p = PatternDetector::new(b, Some(b), None, None).unwrap();
        let s = Instant::now();
        p.find(t, |_| {});
        println!(
            "   detector {b} alone: {:.0} MB/s",
            mb / s.elapsed().as_secs_f64()
        );
    }
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let clients: usize = std::env::var("MW_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let matters: usize = std::env::var("MW_MATTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    dictionaries(dir.path(), clients, matters);
    let before = rss_bytes();
    let start = Instant::now();
    let engine = Engine::load(&dir.path().join("matterwall.toml")).expect("generated config loads");
    let cfg = &engine.config;
    let load = start.elapsed();
    let rss = rss_bytes().saturating_sub(before);
    let names = cfg
        .dict
        .clients
        .iter()
        .map(|c| 1 + c.aliases.len())
        .sum::<usize>();
    let entries = names + cfg.dict.matters.len();
    println!(
        "dictionary: {clients} clients ({names} names and aliases), {} matters",
        cfg.dict.matters.len()
    );
    println!("load + build: {:.2} s", load.as_secs_f64());
    println!(
        "resident memory: {:.0} MB, {:.0} bytes per entry ({entries} entries)",
        rss as f64 / 1e6,
        rss as f64 / entries as f64
    );
    println!(
        "matchers alone: {:.0} bytes per entry",
        engine.detector.heap_bytes() as f64 / entries as f64
    );
    if std::env::var("MW_STAGES_ONLY").is_ok() {
        return stages(cfg, &text(2 << 20));
    }
    for size in [1usize << 20, 10 << 20] {
        let t = text(size);
        let mb = t.len() as f64 / 1e6;
        let rounds = if size > 1 << 20 { 3 } else { 10 };
        let (mut norm_s, mut detect_s, mut hits_n) = (0.0, 0.0, 0);
        for _ in 0..rounds {
            let s = Instant::now();
            let n = normalise(&t, None);
            norm_s += s.elapsed().as_secs_f64();
            let s = Instant::now();
            let mut hits = Vec::new();
            engine.detector.hits(&t, &n, &mut hits);
            detect_s += s.elapsed().as_secs_f64();
            hits_n = hits.len();
        }
        let r = rounds as f64;
        println!(
            "{:>2} MB text: normalise {:.0} MB/s, detect {:.0} MB/s, both {:.0} MB/s ({hits_n} hits)",
            size >> 20,
            mb * r / norm_s,
            mb * r / detect_s,
            mb * r / (norm_s + detect_s)
        );
    }
    stages(cfg, &text(10 << 20));
    let body = text(1 << 20);
    let raw =
        format!("From: a@firm.example\r\nTo: b@outside.example\r\nSubject: report\r\n\r\n{body}");
    let env = Envelope {
        from: "a@firm.example".into(),
        to: vec!["b@outside.example".into()],
    };
    let start = Instant::now();
    let rounds = 10;
    let mut action = String::new();
    for _ in 0..rounds {
        action = check(&engine, &env, raw.as_bytes(), matterwall::check::today())
            .action
            .as_str()
            .to_string();
    }
    let per = start.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "whole check, 1 MB message: {:.1} ms ({:.0} MB/s), action {action}",
        per * 1e3,
        raw.len() as f64 / 1e6 / per
    );
}
