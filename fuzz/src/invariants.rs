//! Invariants the fuzz targets check, beyond "no panic". One function per
//! target, taking the raw fuzz input. Shared with `tests/it/fuzz_seeds.rs`
//! (included by path), so it uses only `matterwall` and `std` (and `tempfile`,
//! which the main crate has as a dev-dependency).

use matterwall::engine::Engine;
use matterwall::extract::{self, attachment, walk, Ctx, Limits};
use matterwall::policy::rules::Action;
use matterwall::smtp::codec::{dot_stuff, parse_command, DataReceiver, Line, LineReader};
use std::path::Path;
use std::time::{Duration, Instant};

/// Slack over `max_scan_millis` for what runs after the last budget check
/// (one reader finishing its current object) on a loaded machine.
const TIME_SLACK: Duration = Duration::from_secs(3);

/// SMTP codec: the command parser never panics; the line reader yields lines
/// without line endings; the DATA receiver ends at the first terminator only,
/// gives the same outcome however the input is split, and its output
/// re-stuffed equals the input up to the terminator (when the input was
/// canonically stuffed).
pub fn smtp(data: &[u8]) {
    let (split, data) = match data.split_first() {
        Some((&s, rest)) => (usize::from(s).max(1), rest),
        None => return,
    };
    commands(data, split);
    data_receiver(data, split);
}

fn commands(data: &[u8], split: usize) {
    let mut reader = LineReader::default();
    let mut buf = Vec::new();
    for chunk in data.chunks(split) {
        buf.extend_from_slice(chunk);
        while let Some(line) = reader.next_line(&mut buf) {
            if let Line::Complete(line) = line {
                assert!(!line.contains(&b'\n'), "a line keeps its LF");
                let _ = parse_command(&line);
            }
        }
    }
}

/// Where the first DATA terminator ends: `.CRLF` at the very start, else the
/// first `CRLF.CRLF`.
fn terminator_end(data: &[u8]) -> Option<usize> {
    if data.starts_with(b".\r\n") {
        return Some(3);
    }
    data.windows(5)
        .position(|w| w == b"\r\n.\r\n")
        .map(|i| i + 5)
}

fn data_receiver(data: &[u8], split: usize) {
    const MAX: usize = 1 << 20;
    let (whole_used, whole) = DataReceiver::new(MAX).feed(data);
    // Split into chunks: same outcome, same bytes consumed in total.
    let mut rx = DataReceiver::new(MAX);
    let (mut used, mut chunked) = (0, None);
    for chunk in data.chunks(split) {
        let (n, out) = rx.feed(chunk);
        used += n;
        if out.is_some() {
            chunked = out;
            break;
        }
    }
    assert_eq!(whole, chunked, "outcome depends on how the input is split");
    let Some(outcome) = whole else {
        assert_eq!(terminator_end(data), None, "a terminator was not seen");
        return;
    };
    assert_eq!(whole_used, used);
    // One message per DATA: it ends exactly at the first terminator.
    assert_eq!(Some(whole_used), terminator_end(data), "ended elsewhere");
    let Ok(body) = outcome else { return };
    let input = &data[..whole_used];
    let stuffed = dot_stuff(&body);
    if canonically_stuffed(input) {
        assert_eq!(stuffed, input, "re-stuffed body differs from the input");
    }
    // Whatever the input, un-stuffing what we stuff gives the body back.
    let (n, again) = DataReceiver::new(MAX).feed(&stuffed);
    assert_eq!(n, stuffed.len());
    assert_eq!(
        again,
        Some(Ok(body)),
        "stuff then un-stuff is not the identity"
    );
}

/// Every line that starts with a dot starts with two (what a conforming
/// client sends); only then is un-stuffing exactly reversible.
fn canonically_stuffed(input: &[u8]) -> bool {
    let body = &input[..input.len() - 3]; // without the final ".\r\n"
    body.split(|&b| b == b'\n')
        .all(|line| !line.starts_with(b".") || line.starts_with(b".."))
}

/// Loads the engine the `message` target uses: `fuzz/matterwall.toml` under
/// `root` (the repository), a small dictionary and small limits.
pub fn engine(root: &Path) -> Engine {
    Engine::load(&root.join("fuzz/matterwall.toml")).expect("fuzz/matterwall.toml loads")
}

/// A whole message: extraction stays within the time limit, its output is
/// bounded by the input and the decompression budget, and a limit reached
/// leaves the message uninspectable (never passed); the full check
/// (extraction, detection, policy) holds an uninspectable message sent
/// outside the firm.
pub fn message(engine: &Engine, data: &[u8]) {
    let limits = &engine.config.limits;
    let mut ctx = Ctx::new(limits);
    let started = Instant::now();
    walk::raw_message(&mut ctx, "", data, 0);
    assert!(started.elapsed() <= budget(limits), "over the time limit");
    over_a_limit_is_uninspectable(&ctx);
    bounded_output(&ctx.out, data.len(), limits);
    let _ = matterwall::check::Envelope::from_headers(data);
    // A fixed envelope with an external recipient, so that the
    // `uninspectable-external` rule of fuzz/matterwall.toml applies.
    let envelope = matterwall::check::Envelope {
        from: "partner@firm.example".to_string(),
        to: vec!["someone@outside.example".to_string()],
    };
    let verdict = matterwall::check::check(engine, &envelope, data, matterwall::check::today());
    let _ = verdict.rule_names();
    if !verdict.uninspectable.is_empty() {
        assert!(
            verdict.action >= Action::Hold,
            "uninspectable but {:?}",
            verdict.action
        );
    }
}

/// Exceeding a limit makes a part uninspectable, never passes it
/// (DESIGN §2): the budgets' counters over their limits imply a flag.
fn over_a_limit_is_uninspectable(ctx: &Ctx) {
    let flagged = !ctx.out.uninspectable.is_empty();
    if ctx.decompressed > ctx.limits.max_decompressed_bytes {
        assert!(flagged, "over the decompression budget, not flagged");
    }
    if ctx.parts > ctx.limits.max_parts {
        assert!(flagged, "over the part limit, not flagged");
    }
}

fn budget(limits: &Limits) -> Duration {
    Duration::from_millis(limits.max_scan_millis) + TIME_SLACK
}

/// Text out is at most a fixed multiple of what came in (raw plus
/// decompressed): each byte is read under a bounded number of views.
fn bounded_output(out: &extract::Extraction, input: usize, limits: &Limits) {
    let text: usize = out.segments.iter().map(|s| s.text.len()).sum();
    let allowed = 64 * (input as u64 + limits.max_decompressed_bytes) + 4096;
    assert!(
        (text as u64) <= allowed,
        "{text} bytes of text from {input}"
    );
    assert!(out.attachments.len() <= input.max(1) * 4 + limits.max_parts * 4);
}

/// Fuzz-sized limits, as in `fuzz/matterwall.toml`.
pub fn small_limits() -> Limits {
    Limits {
        max_depth: 4,
        max_decompressed_bytes: 1 << 20,
        max_archive_entries: 64,
        max_compression_ratio: 200,
        max_scan_millis: 2000,
        max_parts: 200,
    }
}

/// One attachment reader, chosen by the first byte, over the rest: within
/// the time limit, output bounded as for a message.
pub fn attachment(data: &[u8]) {
    use attachment::Kind;
    const KINDS: [(Kind, &str); 10] = [
        (Kind::Pdf, "application/pdf"),
        (Kind::Zip, "application/zip"),
        (Kind::Gzip, "application/gzip"),
        (Kind::Tar, "application/x-tar"),
        (Kind::Rtf, "application/rtf"),
        (Kind::Ole, "application/vnd.ms-outlook"),
        (Kind::Tnef, "application/ms-tnef"),
        (Kind::Cms, "application/pkcs7-mime"),
        (Kind::Text, "text/plain"),
        (Kind::Message, "message/rfc822"),
    ];
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let limits = small_limits();
    let mut ctx = Ctx::new(&limits);
    let started = Instant::now();
    if usize::from(selector) < KINDS.len() {
        let (kind, declared) = KINDS[usize::from(selector)];
        walk::dispatch(&mut ctx, "attachment:f", kind, declared, bytes, 0);
    } else if selector & 1 == 0 {
        // Compressed RTF (MS-OXRTFCP), as a .msg or TNEF carries it.
        let _ = attachment::lzfu::decompress(bytes, limits.max_decompressed_bytes as usize);
    } else {
        walk::file(&mut ctx, "attachment:f", "", bytes, 0);
    }
    assert!(started.elapsed() <= budget(&limits), "over the time limit");
    assert!(ctx.decompressed <= limits.max_decompressed_bytes * 2 + (1 << 20));
    over_a_limit_is_uninspectable(&ctx);
    bounded_output(&ctx.out, bytes.len(), &limits);
}

/// The configuration and dictionary loader: the input is a TOML file and
/// three CSVs separated by NUL bytes, written to a fresh directory; loading
/// returns an engine or an error with at least one problem, never a panic.
pub fn config(data: &[u8]) {
    let mut parts = data.splitn(4, |&b| b == 0);
    let dir = tempfile::tempdir().expect("temp dir");
    let files = [
        "matterwall.toml",
        "clients.csv",
        "matters.csv",
        "waivers.csv",
    ];
    for name in files {
        let bytes = parts.next().unwrap_or_default();
        std::fs::write(dir.path().join(name), bytes).expect("write input");
    }
    if let Err(e) = Engine::load(&dir.path().join("matterwall.toml")) {
        assert!(!e.problems.is_empty(), "an error without a problem");
        assert!(!e.to_string().is_empty());
    }
}
