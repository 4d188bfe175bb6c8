//! RTF: a small reader, because no maintained crate fits. The RTF crates on
//! crates.io either render (and pull layout code) or drop `\'hh` and `\uN`
//! escapes, which is where a client's accented name lives.
//!
//! What it does: control words, `\'hh` bytes in the `\ansicpg` code page
//! (decoded with `encoding_rs`), `\uN` Unicode with `\ucN` fallback skipping,
//! `\binN` skipped, and destinations that carry no document text skipped
//! (`\*`, font and colour tables, stylesheet, pictures, object data). The
//! `\info` group is kept: its title, subject, author and keywords are text.
//! Work is linear in the input; the group stack is bounded.

use crate::extract::Ctx;

/// Destinations whose contents are not document text.
const SKIP: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "pict",
    "objdata",
    "themedata",
    "colorschememapping",
    "latentstyles",
    "datastore",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "filetbl",
    "revtbl",
    "pgdsctbl",
    "wgrffmtfilter",
    "mmathPr",
];

/// Deeper groups than this are treated as one level (hostile nesting).
const MAX_GROUPS: usize = 1024;

/// Reads the RTF at `loc`.
pub(crate) fn read(ctx: &mut Ctx, loc: &str, bytes: &[u8]) {
    ctx.text(loc, to_text(bytes));
}

#[derive(Clone, Copy)]
struct Group {
    skip: bool,
    uc: usize,
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    out: String,
    /// Code-page bytes not yet decoded (so multi-byte code pages work).
    pending: Vec<u8>,
    codepage: &'static encoding_rs::Encoding,
    group: Group,
    stack: Vec<Group>,
    /// Fallback characters still to skip after a `\uN`.
    to_skip: usize,
}

/// The text of an RTF document.
pub(crate) fn to_text(input: &[u8]) -> String {
    let mut r = Reader {
        input,
        pos: 0,
        out: String::new(),
        pending: Vec::new(),
        codepage: encoding_rs::WINDOWS_1252,
        group: Group { skip: false, uc: 1 },
        stack: Vec::new(),
        to_skip: 0,
    };
    r.run();
    r.flush();
    r.out
}

impl Reader<'_> {
    fn run(&mut self) {
        while let Some(&b) = self.input.get(self.pos) {
            self.pos += 1;
            match b {
                b'{' => self.open(),
                b'}' => self.close(),
                b'\\' => self.control(),
                b'\r' | b'\n' => {}
                _ => self.byte(b),
            }
        }
    }

    fn open(&mut self) {
        self.to_skip = 0;
        if self.stack.len() < MAX_GROUPS {
            self.stack.push(self.group);
        }
    }

    fn close(&mut self) {
        self.to_skip = 0;
        if let Some(g) = self.stack.pop() {
            self.group = g;
        }
    }

    fn byte(&mut self, b: u8) {
        if self.to_skip > 0 {
            self.to_skip -= 1;
        } else if !self.group.skip {
            self.pending.push(b);
        }
    }

    fn push(&mut self, s: &str) {
        if !self.group.skip {
            self.flush();
            self.out.push_str(s);
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let (text, _, _) = self.codepage.decode(&self.pending);
            self.out.push_str(&text);
            self.pending.clear();
        }
    }

    fn control(&mut self) {
        let Some(&c) = self.input.get(self.pos) else {
            return;
        };
        self.pos += 1;
        match c {
            b'\'' => {
                let hex = self.input.get(self.pos..self.pos + 2).unwrap_or_default();
                self.pos += hex.len();
                let value = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = value {
                    self.byte(v);
                }
            }
            b'*' => self.group.skip = true,
            b'\\' | b'{' | b'}' => self.byte(c),
            b'~' => self.symbol("\u{a0}"),
            b'_' => self.symbol("-"),
            b'-' => self.symbol(""),
            b'\r' | b'\n' => self.symbol("\n"),
            b'a'..=b'z' | b'A'..=b'Z' => {
                self.pos -= 1;
                self.word();
            }
            _ => self.symbol(""),
        }
    }

    fn symbol(&mut self, s: &str) {
        if self.to_skip > 0 {
            self.to_skip -= 1;
        } else {
            self.push(s);
        }
    }

    /// A control word with its optional numeric parameter.
    fn word(&mut self) {
        let start = self.pos;
        while self
            .input
            .get(self.pos)
            .is_some_and(u8::is_ascii_alphabetic)
        {
            self.pos += 1;
        }
        let name = String::from_utf8_lossy(self.input.get(start..self.pos).unwrap_or_default())
            .into_owned();
        let num_start = self.pos;
        if self.input.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        while self.input.get(self.pos).is_some_and(u8::is_ascii_digit) && self.pos - num_start < 10
        {
            self.pos += 1;
        }
        let param = std::str::from_utf8(self.input.get(num_start..self.pos).unwrap_or_default())
            .ok()
            .and_then(|n| n.parse::<i64>().ok());
        if self.input.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        self.apply(&name, param);
    }

    fn apply(&mut self, name: &str, param: Option<i64>) {
        match name {
            "ansicpg" => self.codepage = codepage(param.unwrap_or(1252)),
            "uc" => self.group.uc = param.unwrap_or(1).clamp(0, 16) as usize,
            "u" => {
                let n = param.unwrap_or(0);
                let n = if n < 0 { n + 65536 } else { n };
                let c = u32::try_from(n)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                self.push(c.encode_utf8(&mut [0; 4]));
                self.to_skip = self.group.uc;
            }
            "bin" => {
                let n = usize::try_from(param.unwrap_or(0)).unwrap_or(0);
                self.pos = self.pos.saturating_add(n);
            }
            "par" | "line" | "sect" | "page" | "row" | "cell" => self.push("\n"),
            "tab" => self.push(" "),
            _ if SKIP.contains(&name) => self.group.skip = true,
            _ => {}
        }
    }
}

/// The `encoding_rs` encoding for a Windows code page number.
fn codepage(n: i64) -> &'static encoding_rs::Encoding {
    let label = match n {
        874 | 1250..=1258 => format!("windows-{n}"),
        932 => "shift_jis".into(),
        936 => "gbk".into(),
        949 => "euc-kr".into(),
        950 => "big5".into(),
        10000 => "macintosh".into(),
        65001 => "utf-8".into(),
        _ => "windows-1252".into(),
    };
    encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::WINDOWS_1252)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_text_table() {
        let cases: &[(&str, &str)] = &[
            (r"{\rtf1\ansi Hello \b world\b0\par}", "Hello world\n"),
            (r"{\rtf1\ansi\ansicpg1252 Caf\'e9}", "Café"),
            (r"{\rtf1\ansi\ansicpg1251 \'cf\'e5\'f2\'f0}", "Петр"),
            (r"{\rtf1\uc1 M\u252?ller}", "Müller"),
            (r"{\rtf1\uc2 M\u252\'fc\'fcller}", "Müller"),
            (
                r"{\rtf1{\fonttbl{\f0 Times New Roman;}}{\colortbl;\red0;}Body}",
                "Body",
            ),
            (r"{\rtf1{\*\generator Acme Writer;}Body}", "Body"),
            (
                r"{\rtf1{\info{\title Acme merger}{\author Jo}}Body}",
                "Acme mergerJoBody",
            ),
            (r"{\rtf1 a\{b\}c\\d}", "a{b}c\\d"),
            (r"{\rtf1 x{\pict\pngblip 89504e47}y}", "xy"),
            (r"{\rtf1 Harrow\-gate}", "Harrowgate"),
            (r"{\rtf1 a\bin3 {}}b}", "ab"),
            (r"{\rtf1 \u-3913?}", "\u{f0b7}"),
            (r"\", ""),
            (r"{\rtf1 \'z", "z"),
        ];
        for (rtf, want) in cases {
            assert_eq!(to_text(rtf.as_bytes()), *want, "{rtf}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let rtf = "{".repeat(100_000) + "deep" + &"}".repeat(100_000);
        assert_eq!(to_text(rtf.as_bytes()), "deep");
    }
}
