//! Attachment readers end to end: each fixture in `fixtures/attachments/`
//! (made by `make.py`, committed) is wrapped in a MIME message, run through
//! `matterwall::extract::extract`, and the expected text must reach a segment
//! at the expected location, or the part must be uninspectable with the
//! expected reason. Bombs and hand-built containers are made here at run time.

use base64::Engine;
use matterwall::extract::{extract, Extraction, Limits};
use std::io::{Cursor, Write};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/attachments/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A message with one base64 attachment declared as octet-stream (the type
/// must come from the bytes).
fn mail(name: &str, bytes: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: a@firm.example\r\nTo: b@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\n\
         Content-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n\
         Content-Type: application/octet-stream; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--XX--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

fn run(name: &str, bytes: &[u8], limits: &Limits) -> Extraction {
    extract(&mail(name, bytes), limits)
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_text(out: &Extraction, loc: &str, text: &str) {
    let found = out
        .segments
        .iter()
        .any(|s| s.location == loc && squash(&s.text).contains(text));
    let locs: Vec<_> = out.segments.iter().map(|s| &s.location).collect();
    assert!(
        found,
        "{text:?} not at {loc}; segments at {locs:?}; flags {:?}",
        out.uninspectable
    );
}

fn assert_flag(out: &Extraction, loc: &str, reason: &str) {
    let found = out
        .uninspectable
        .iter()
        .any(|f| f.location == loc && f.reason.contains(reason));
    assert!(found, "{reason:?} not at {loc}: {:?}", out.uninspectable);
}

#[test]
fn fixtures_reach_their_locations() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "memo.docx",
            "attachment:memo.docx",
            "matter 2031-0457 for Harrowgate Shipping",
        ),
        (
            "memo.docx",
            "attachment:memo.docx",
            "Check with Kestrel Dynamics first",
        ),
        (
            "memo.docx",
            "attachment:memo.docx",
            "Previously acting for Quillon Partners",
        ),
        ("memo.docx", "attachment:memo.docx", "Engagement memo"),
        ("fees.xlsx", "attachment:fees.xlsx", "Marlowe Textiles fees"),
        ("fees.xlsx", "attachment:fees.xlsx", "Zephyrine Holdings"),
        ("fees.xlsx", "attachment:fees.xlsx", "2031-0457"),
        ("fees.xlsx", "attachment:fees.xlsx", "12.5"),
        (
            "deck.pptx",
            "attachment:deck.pptx",
            "Strategy for Harrowgate Shipping",
        ),
        (
            "deck.pptx",
            "attachment:deck.pptx",
            "Do not mention Kestrel Dynamics",
        ),
        (
            "memo.odt",
            "attachment:memo.odt",
            "Harrowgate Shipping, matter 2031-0457",
        ),
        (
            "memo.odt",
            "attachment:memo.odt",
            "Quillon Partners file note",
        ),
        (
            "memo.rtf",
            "attachment:memo.rtf",
            "Matter 2031-0457 for Zéphyrine Holdings",
        ),
        (
            "memo.rtf",
            "attachment:memo.rtf",
            "Müller – Harrowgate Shipping",
        ),
        (
            "memo.rtf",
            "attachment:memo.rtf",
            "Note for Marlowe Textiles",
        ),
        (
            "brief.pdf",
            "attachment:brief.pdf",
            "Brief for Harrowgate Shipping",
        ),
        (
            "brief.pdf",
            "attachment:brief.pdf",
            "Matter 2031-0457 (Kestrel Dynamics)",
        ),
        (
            "metadata-only.pdf",
            "attachment:metadata-only.pdf",
            "Quillon Partners settlement",
        ),
        (
            "metadata-only.pdf",
            "attachment:metadata-only.pdf",
            "Marlowe Textiles",
        ),
        (
            "annotated.pdf",
            "attachment:annotated.pdf",
            "Ask Zephyrine Holdings before sending",
        ),
        (
            "annotated.pdf",
            "attachment:annotated.pdf",
            "Marlowe Textiles letterhead",
        ),
        (
            "bundle.zip",
            "attachment:bundle.zip/inner/memo.docx",
            "Harrowgate Shipping",
        ),
        (
            "bundle.zip",
            "attachment:bundle.zip/../../evil.txt",
            "Marlowe Textiles",
        ),
        (
            "zip-in-zip.zip",
            "attachment:zip-in-zip.zip/inner.zip/deep/note.txt",
            "Zephyrine Holdings",
        ),
        (
            "bundle.tar.gz",
            "attachment:bundle.tar.gz/notes.txt",
            "Kestrel Dynamics",
        ),
        (
            "bundle.tar.gz",
            "attachment:bundle.tar.gz/docs/memo.odt",
            "Harrowgate Shipping",
        ),
        (
            "report.txt",
            "attachment:report.txt/note.txt",
            "Quillon Partners",
        ),
        (
            "winmail.dat",
            "attachment:winmail.dat/body",
            "Kestrel Dynamics update",
        ),
        (
            "winmail.dat",
            "attachment:winmail.dat/body",
            "Body about Harrowgate Shipping",
        ),
        (
            "winmail.dat",
            "attachment:winmail.dat/casefile.txt",
            "matter 2031-0457, Quillon Partners",
        ),
    ];
    let limits = Limits::default();
    for (file, loc, text) in cases {
        let out = run(file, &fixture(file), &limits);
        assert_text(&out, loc, text);
        assert!(
            out.uninspectable.is_empty(),
            "{file}: {:?}",
            out.uninspectable
        );
    }
}

#[test]
fn rtf_skips_tables_and_generator() {
    let out = run("memo.rtf", &fixture("memo.rtf"), &Limits::default());
    for s in &out.segments {
        assert!(!s.text.contains("Times New Roman"), "{}", s.text);
        assert!(!s.text.contains("Kestrel Dynamics Sans"), "{}", s.text);
        assert!(!s.text.contains("Harrowgate Writer"), "{}", s.text);
    }
}

#[test]
fn unreadable_fixtures_are_uninspectable() {
    let cases: &[(&str, &str, &str)] = &[
        ("encrypted.pdf", "attachment:encrypted.pdf", "encrypted PDF"),
        ("corrupt.pdf", "attachment:corrupt.pdf", "corrupt PDF"),
        (
            "password.zip",
            "attachment:password.zip/secret.txt",
            "password-protected zip",
        ),
        (
            "bomb-1g.zip",
            "attachment:bomb-1g.zip/zeros.bin",
            "compression ratio",
        ),
    ];
    let limits = Limits::default();
    for (file, loc, reason) in cases {
        let out = run(file, &fixture(file), &limits);
        assert_flag(&out, loc, reason);
    }
}

fn zip_bytes(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn nested_zip_bomb_stops_at_the_budget() {
    // 42.zip in small: 8 × 8 copies of 32 MiB of zeros (2 GiB inflated).
    // The ratio limit is raised so that only the byte budget can stop it.
    let mut level = zip_bytes(&[("zeros.bin", &vec![0u8; 32 << 20])]);
    for _ in 0..2 {
        let names: Vec<String> = (0..8).map(|i| format!("{i}.zip")).collect();
        let members: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &level[..])).collect();
        level = zip_bytes(&members);
    }
    let limits = Limits {
        max_compression_ratio: 1_000_000,
        ..Limits::default()
    };
    let out = run("42.zip", &level, &limits);
    assert!(
        out.uninspectable
            .iter()
            .any(|f| f.reason.contains("decompressed bytes")),
        "{:?}",
        out.uninspectable
    );
}

#[test]
fn gzip_bomb_trips_the_actual_ratio() {
    // gzip declares nothing reliable: the ratio is judged while inflating.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 64 << 20]).unwrap();
    let out = run("zeros.gz", &gz.finish().unwrap(), &Limits::default());
    assert_flag(&out, "attachment:zeros.gz", "compression ratio");
}

#[test]
fn budget_limits_total_bytes() {
    let data = vec![b'a'; 4 << 20];
    let z = zip_bytes(&[("a.txt", &data), ("b.txt", &data)]);
    let limits = Limits {
        max_decompressed_bytes: 6 << 20,
        max_compression_ratio: 1_000_000,
        ..Limits::default()
    };
    let out = run("two.zip", &z, &limits);
    assert_flag(&out, "attachment:two.zip/b.txt", "decompressed bytes");
}

#[test]
fn entry_and_depth_limits() {
    let many: Vec<(String, Vec<u8>)> = (0..11)
        .map(|i| (format!("{i}.txt"), b"x".to_vec()))
        .collect();
    let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
    let limits = Limits {
        max_archive_entries: 10,
        ..Limits::default()
    };
    let out = run("many.zip", &zip_bytes(&refs), &limits);
    assert_flag(&out, "attachment:many.zip", "more than 10 archive entries");

    let mut nested = b"bottom".to_vec();
    for _ in 0..40 {
        nested = zip_bytes(&[("n.zip", &nested)]);
    }
    let out = run("deep.zip", &nested, &Limits::default());
    assert!(
        out.uninspectable
            .iter()
            .any(|f| f.reason.contains("nested deeper")),
        "{:?}",
        out.uninspectable
    );
}

#[test]
fn eml_in_zip_is_walked_as_a_message() {
    let eml = b"From: x@example.com\r\nSubject: About Kestrel Dynamics\r\n\r\nBody for Harrowgate Shipping\r\n";
    let out = run(
        "fwd.zip",
        &zip_bytes(&[("fwd.eml", eml)]),
        &Limits::default(),
    );
    assert_text(
        &out,
        "attachment:fwd.zip/fwd.eml/subject",
        "About Kestrel Dynamics",
    );
    assert_text(
        &out,
        "attachment:fwd.zip/fwd.eml/body",
        "Body for Harrowgate Shipping",
    );
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn ole(streams: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut c = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    for (path, data) in streams {
        if let Some((dir, _)) = path.rsplit_once('/') {
            if !dir.is_empty() && !c.exists(dir) {
                c.create_storage_all(dir).unwrap();
            }
        }
        c.create_stream(path).unwrap().write_all(data).unwrap();
    }
    c.flush().unwrap();
    c.into_inner().into_inner()
}

#[test]
fn outlook_msg_with_attachment() {
    let inner = zip_bytes(&[("note.txt", b"Attached note for Zephyrine Holdings")]);
    let att = "/__attach_version1.0_#00000000";
    let msg = ole(&[
        ("/__properties_version1.0", vec![0; 32]),
        (
            "/__substg1.0_0037001F",
            utf16("Kestrel Dynamics settlement"),
        ),
        (
            "/__substg1.0_1000001F",
            utf16("Body naming Harrowgate Shipping"),
        ),
        (&format!("{att}/__substg1.0_3707001F"), utf16("bundle.zip")),
        (&format!("{att}/__substg1.0_37010102"), inner),
    ]);
    let out = run("mail.msg", &msg, &Limits::default());
    assert_text(
        &out,
        "attachment:mail.msg/subject",
        "Kestrel Dynamics settlement",
    );
    assert_text(
        &out,
        "attachment:mail.msg/body",
        "Body naming Harrowgate Shipping",
    );
    assert_text(
        &out,
        "attachment:mail.msg/bundle.zip/note.txt",
        "Zephyrine Holdings",
    );
}

#[test]
fn encrypted_office_is_uninspectable() {
    let doc = ole(&[
        ("/EncryptionInfo", vec![4, 0, 4, 0]),
        ("/EncryptedPackage", vec![0; 64]),
    ]);
    let out = run("locked.docx", &doc, &Limits::default());
    assert_flag(&out, "attachment:locked.docx", "encrypted Office document");
}

#[test]
fn hostile_bytes_never_panic() {
    // Truncations of every fixture: each must give a verdict, never a panic.
    let limits = Limits::default();
    for file in [
        "memo.docx",
        "brief.pdf",
        "bundle.tar.gz",
        "memo.rtf",
        "winmail.dat",
        "fees.xlsx",
    ] {
        let bytes = fixture(file);
        for cut in [
            1,
            7,
            100,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len().saturating_sub(5),
        ] {
            let _ = run(file, bytes.get(..cut.min(bytes.len())).unwrap(), &limits);
        }
    }
}

#[test]
fn embedded_msg_is_walked_in_place() {
    let att = "/__attach_version1.0_#00000000";
    let inner = format!("{att}/__substg1.0_3701000D");
    let msg = ole(&[
        ("/__properties_version1.0", vec![0; 32]),
        ("/__substg1.0_0037001F", utf16("Fwd: update")),
        (
            &format!("{att}/__substg1.0_3707001F"),
            utf16("original.msg"),
        ),
        (&format!("{inner}/__properties_version1.0"), vec![0; 24]),
        (
            &format!("{inner}/__substg1.0_0037001F"),
            utf16("Quillon Partners terms"),
        ),
        (
            &format!("{inner}/__substg1.0_1000001F"),
            utf16("Body for Marlowe Textiles"),
        ),
    ]);
    let out = run("fwd.msg", &msg, &Limits::default());
    assert_text(
        &out,
        "attachment:fwd.msg/original.msg/subject",
        "Quillon Partners terms",
    );
    assert_text(
        &out,
        "attachment:fwd.msg/original.msg/body",
        "Body for Marlowe Textiles",
    );
}

#[test]
fn legacy_word_is_string_scanned() {
    let mut stream = vec![0u8; 512];
    stream.extend(utf16("Engagement letter for Harrowgate Shipping"));
    stream.extend([0u8; 64]);
    let doc = ole(&[("/WordDocument", stream), ("/1Table", vec![0; 128])]);
    let out = run("old.doc", &doc, &Limits::default());
    assert_text(
        &out,
        "attachment:old.doc",
        "Engagement letter for Harrowgate Shipping",
    );
    assert!(out
        .anomalies
        .iter()
        .any(|a| a.reason.contains("legacy Office")));
}

#[test]
fn encrypted_odf_is_uninspectable() {
    let manifest = br#"<manifest:manifest><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data manifest:checksum-type="SHA1/1K"/></manifest:file-entry></manifest:manifest>"#;
    let odt = zip_bytes(&[
        ("mimetype", b"application/vnd.oasis.opendocument.text"),
        ("META-INF/manifest.xml", manifest),
        ("content.xml", b"\x8a\x11 ciphertext"),
    ]);
    let out = run("locked.odt", &odt, &Limits::default());
    assert_flag(&out, "attachment:locked.odt", "encrypted OpenDocument");
}

/// A Fifield-style overlapping zip: one compressed member, and a central
/// directory with `copies` entries that all point at it.
fn overlapping_zip(copies: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("a000", opts).unwrap();
    w.write_all(&vec![0u8; 32 << 20]).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let cd = bytes.windows(4).position(|s| s == b"PK\x01\x02").unwrap();
    let eocd = bytes.windows(4).rposition(|s| s == b"PK\x05\x06").unwrap();
    let entry = bytes[cd..eocd].to_vec();
    let mut out = bytes[..cd].to_vec();
    for i in 0..copies {
        let mut e = entry.clone();
        let name = format!("{i:04}");
        e[46..50].copy_from_slice(name.as_bytes());
        out.extend(e);
    }
    let cd_size = (out.len() - cd) as u32;
    let mut end = bytes[eocd..].to_vec();
    end[8..10].copy_from_slice(&(copies as u16).to_le_bytes());
    end[10..12].copy_from_slice(&(copies as u16).to_le_bytes());
    end[12..16].copy_from_slice(&cd_size.to_le_bytes());
    out.extend(end);
    out
}

#[test]
fn overlapping_zip_bomb_is_held() {
    let bomb = overlapping_zip(200); // 200 × 32 MiB from one 32 KiB stream
    let raised = Limits {
        max_compression_ratio: 1_000_000,
        ..Limits::default()
    };
    for limits in [Limits::default(), raised] {
        let out = run("overlap.zip", &bomb, &limits);
        let held = out.uninspectable.iter().any(|f| {
            ["compression ratio", "decompressed bytes", "corrupt zip"]
                .iter()
                .any(|r| f.reason.contains(r))
        });
        assert!(held, "{:?}", out.uninspectable);
    }
}

#[test]
fn msg_rich_text_body_is_decompressed() {
    // [MS-OXRTFCP] 3.1.1: LZFu of "{\rtf1\ansi\ansicpg1252\pard hello world}".
    let lzfu: Vec<u8> = vec![
        0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7,
        0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a,
        0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d,
        0x0a, 0x80, 0x0f, 0xa0,
    ];
    let msg = ole(&[
        ("/__properties_version1.0", vec![0; 32]),
        ("/__substg1.0_10090102", lzfu),
    ]);
    let out = run("rich.msg", &msg, &Limits::default());
    assert_text(&out, "attachment:rich.msg/body", "hello world");
}

#[test]
fn zip_with_entries_hidden_from_the_central_directory() {
    // Two members, then the central directory rewritten to list only the
    // second: a streaming unzipper still shows the first.
    let z = zip_bytes(&[
        ("hidden.txt", b"Hidden note for Harrowgate Shipping"),
        ("shown.txt", b"Nothing here"),
    ]);
    let cd = z.windows(4).position(|s| s == b"PK\x01\x02").unwrap();
    let second = cd
        + 4
        + z[cd + 4..]
            .windows(4)
            .position(|s| s == b"PK\x01\x02")
            .unwrap();
    let eocd = z.windows(4).rposition(|s| s == b"PK\x05\x06").unwrap();
    let mut lying = z[..cd].to_vec();
    lying.extend_from_slice(&z[second..eocd]);
    let mut end = z[eocd..].to_vec();
    end[8..10].copy_from_slice(&1u16.to_le_bytes());
    end[10..12].copy_from_slice(&1u16.to_le_bytes());
    end[12..16].copy_from_slice(&((eocd - second) as u32).to_le_bytes());
    lying.extend(end);
    let out = run("lying.zip", &lying, &Limits::default());
    assert_flag(
        &out,
        "attachment:lying.zip",
        "disagree with its central directory",
    );

    // An honest zip holding a stored zip is not flagged.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("inner.zip", stored).unwrap();
    w.write_all(&z).unwrap();
    let honest = w.finish().unwrap().into_inner();
    let out = run("honest.zip", &honest, &Limits::default());
    assert!(out.uninspectable.is_empty(), "{:?}", out.uninspectable);
}

#[test]
fn random_bytes_behind_every_magic_never_panic() {
    // A fixed LCG, so failures reproduce.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (state >> 33) as u8
            })
            .collect()
    };
    let magics: &[&[u8]] = &[
        b"%PDF-1.7\n",
        b"PK\x03\x04",
        b"\x1f\x8b\x08\x00",
        b"{\\rtf1 ",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"\x78\x9f\x3e\x22\x01\x00",
        b"From: a@b.c\r\nMIME-Version: 1.0\r\n\r\n",
    ];
    let limits = Limits::default();
    for magic in magics {
        for len in [0, 1, 16, 300, 5000] {
            let mut bytes = magic.to_vec();
            bytes.extend(noise(len));
            let _ = run("blob.bin", &bytes, &limits);
        }
    }
    // tar's magic sits at offset 257.
    for len in [512, 1024, 5000] {
        let mut bytes = noise(len);
        bytes[257..262].copy_from_slice(b"ustar");
        let _ = run("blob.tar", &bytes, &limits);
    }
}

#[test]
fn zip_appended_to_another_format_is_read() {
    let z = zip_bytes(&[("inside.txt", b"Polyglot note for Kestrel Dynamics")]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("brief.pdf", [fixture("brief.pdf"), z.clone()].concat()),
        (
            "photo.jpg",
            [b"\xff\xd8\xff\xe0 jpeg bytes".to_vec(), z].concat(),
        ),
    ];
    for (name, bytes) in cases {
        let out = run(name, &bytes, &Limits::default());
        assert_text(
            &out,
            &format!("attachment:{name}/inside.txt"),
            "Polyglot note for Kestrel Dynamics",
        );
        assert!(
            out.uninspectable.is_empty(),
            "{name}: {:?}",
            out.uninspectable
        );
    }
}
