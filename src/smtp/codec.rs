//! The SMTP wire format with no I/O: command lines (bytes → typed
//! [`Request`]), the DATA receiver (bytes → one message, or a refusal), and
//! replies (typed → bytes). Everything here is a pure function of its input so
//! the smuggling vectors of RELIABILITY §1 items 1–3 are tested byte for byte.

use std::fmt;

/// Longest command line we read. RFC 5321 allows 512 octets; we leave room
/// for long parameters, and discard anything longer to the next LF.
pub(crate) const MAX_LINE: usize = 2048;

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `EHLO` with the client's name.
    Ehlo(String),
    /// `HELO` with the client's name.
    Helo(String),
    /// `MAIL FROM:<path>` and its parameters.
    Mail {
        /// The reverse path, without angle brackets; empty for `<>`.
        from: String,
        /// `SIZE`, `BODY=8BITMIME`, `SMTPUTF8`.
        params: MailParams,
    },
    /// `RCPT TO:<path>`.
    Rcpt {
        /// The forward path, without angle brackets.
        to: String,
    },
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY`: answered 252, never verifies.
    Vrfy,
    /// `EXPN`: refused.
    Expn,
    /// `STARTTLS`.
    StartTls,
    /// `BDAT`: not advertised, refused.
    Bdat,
    /// `HELP`.
    Help,
}

/// The MAIL FROM parameters we advertise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// The client's declared size: a hint we check early, never trusted.
    pub(crate) size: Option<u64>,
    pub(crate) eight_bit: bool,
    pub(crate) smtputf8: bool,
}

/// Why a command line was refused; [`ParseError::reply`] is its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Longer than [`MAX_LINE`].
    LineTooLong,
    /// A verb we do not know.
    Unrecognised,
    /// A known verb with the wrong arguments.
    Syntax,
    /// A reverse or forward path that is not an address.
    BadPath,
    /// A MAIL parameter we do not advertise, or a bad value.
    BadParameter,
    /// A NUL byte in the line.
    NulByte,
}

impl ParseError {
    pub(crate) fn reply(self) -> Reply {
        match self {
            ParseError::LineTooLong => Reply::new(500, "5.5.2 line too long"),
            ParseError::Unrecognised => Reply::new(500, "5.5.1 command unrecognised"),
            ParseError::Syntax => Reply::new(501, "5.5.4 syntax error in arguments"),
            ParseError::BadPath => Reply::new(501, "5.1.3 bad address syntax"),
            ParseError::BadParameter => Reply::new(555, "5.5.4 unsupported parameter"),
            ParseError::NulByte => Reply::new(500, "5.5.2 NUL byte in command"),
        }
    }
}

/// A line taken from the input buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line without its line ending.
    Complete(Vec<u8>),
    /// A line longer than [`MAX_LINE`] was discarded up to its end.
    TooLong,
}

/// Splits command lines off a buffer, bounding memory: a line that outgrows
/// [`MAX_LINE`] is dropped as it arrives and reported once it ends.
#[derive(Debug, Default)]
pub struct LineReader {
    discarding: bool,
}

impl LineReader {
    /// Takes the next line off the front of `buf`, if a whole one is there.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> Option<Line> {
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let mut line: Vec<u8> = buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if std::mem::take(&mut self.discarding) || line.len() > MAX_LINE {
                    return Some(Line::TooLong);
                }
                Some(Line::Complete(line))
            }
            None => {
                if buf.len() > MAX_LINE {
                    self.discarding = true;
                    buf.clear();
                }
                None
            }
        }
    }

    pub(crate) fn is_discarding(&self) -> bool {
        self.discarding
    }
}

/// Parses one command line (without its line ending).
pub fn parse_command(line: &[u8]) -> Result<Request, ParseError> {
    if line.contains(&0) {
        return Err(ParseError::NulByte);
    }
    let (verb, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[][..]),
    };
    let verb = verb.to_ascii_uppercase();
    let rest = std::str::from_utf8(rest).map_err(|_| ParseError::Syntax)?;
    let no_args = |r: Request| {
        if rest.trim().is_empty() {
            Ok(r)
        } else {
            Err(ParseError::Syntax)
        }
    };
    match verb.as_slice() {
        b"EHLO" | b"HELO" => {
            let host = rest.trim();
            if host.is_empty() || host.contains(' ') {
                return Err(ParseError::Syntax);
            }
            Ok(if verb == b"EHLO" {
                Request::Ehlo(host.to_string())
            } else {
                Request::Helo(host.to_string())
            })
        }
        b"MAIL" => parse_mail(rest),
        b"RCPT" => parse_rcpt(rest),
        b"DATA" => no_args(Request::Data),
        b"RSET" => no_args(Request::Rset),
        b"QUIT" => no_args(Request::Quit),
        b"STARTTLS" => no_args(Request::StartTls),
        b"NOOP" => Ok(Request::Noop),
        b"HELP" => Ok(Request::Help),
        b"VRFY" => Ok(Request::Vrfy),
        b"EXPN" => Ok(Request::Expn),
        b"BDAT" => Ok(Request::Bdat),
        _ => Err(ParseError::Unrecognised),
    }
}

fn strip_keyword<'a>(rest: &'a str, keyword: &str) -> Result<&'a str, ParseError> {
    let head = rest.get(..keyword.len()).ok_or(ParseError::Syntax)?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(ParseError::Syntax);
    }
    // Some clients write `MAIL FROM: <a@b>`; accept the space, nothing more.
    Ok(rest[keyword.len()..].trim_start_matches(' '))
}

fn parse_mail(rest: &str) -> Result<Request, ParseError> {
    let rest = strip_keyword(rest, "FROM:")?;
    let (path, params) = split_path(rest)?;
    let mut p = MailParams::default();
    for param in params.split(' ').filter(|s| !s.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key.to_ascii_uppercase().as_str() {
            "SIZE" => {
                let n = value.parse().map_err(|_| ParseError::Syntax)?;
                p.size = Some(n);
            }
            "BODY" => match value.to_ascii_uppercase().as_str() {
                "7BIT" => p.eight_bit = false,
                "8BITMIME" => p.eight_bit = true,
                _ => return Err(ParseError::BadParameter),
            },
            "SMTPUTF8" if value.is_empty() => p.smtputf8 = true,
            _ => return Err(ParseError::BadParameter),
        }
    }
    Ok(Request::Mail {
        from: path.to_string(),
        params: p,
    })
}

fn parse_rcpt(rest: &str) -> Result<Request, ParseError> {
    let rest = strip_keyword(rest, "TO:")?;
    let (path, params) = split_path(rest)?;
    if !params.trim().is_empty() {
        return Err(ParseError::BadParameter);
    }
    if path.is_empty() {
        return Err(ParseError::BadPath);
    }
    Ok(Request::Rcpt {
        to: path.to_string(),
    })
}

/// Splits `<path> params` into the path without its brackets and the rest.
/// Quoted local parts may hold `>` and spaces; control characters are refused.
/// Strict-but-odd forms (source routes, `%`) pass here: policy holds them.
fn split_path(s: &str) -> Result<(&str, &str), ParseError> {
    let inner = s.strip_prefix('<').ok_or(ParseError::BadPath)?;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in inner.char_indices() {
        if c.is_control() {
            return Err(ParseError::BadPath);
        }
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' if !quoted => return Err(ParseError::BadPath),
            '<' if !quoted => return Err(ParseError::BadPath),
            '>' if !quoted => {
                let params = &inner[i + 1..];
                if !(params.is_empty() || params.starts_with(' ')) {
                    return Err(ParseError::BadPath);
                }
                return Ok((&inner[..i], params));
            }
            _ => {}
        }
    }
    Err(ParseError::BadPath)
}

/// One reply; `text` may hold several lines separated by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            text: text.into(),
        }
    }

    pub(crate) fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The reply on the wire: `code-line` for all but the last line.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let lines: Vec<&str> = self.text.split('\n').collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}{}\r\n", self.code, sep, line).as_bytes());
        }
        out
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text.replace('\n', " / "))
    }
}

/// Why a message body was refused after its terminator was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataError {
    /// A bare CR or LF: the CVE-2023-51764 class of smuggling.
    BareLineEnding,
    /// Past `max_message_size`.
    TooBig,
}

impl DataError {
    pub(crate) fn reply(self) -> Reply {
        match self {
            DataError::BareLineEnding => Reply::new(550, "5.5.2 bare CR or LF in message data"),
            DataError::TooBig => Reply::new(552, "5.3.4 message too big"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataState {
    /// At the start of a line (also the first line after 354).
    LineStart,
    InLine,
    /// Saw CR inside a line.
    Cr,
    /// Saw `.` at the start of a line.
    Dot,
    /// Saw `.` CR at the start of a line.
    DotCr,
}

/// Receives a DATA body incrementally. Only `CRLF . CRLF` ends it; the
/// leading dot of every line is removed (first line included); a bare CR or
/// LF, or going over the size limit, turns the rest into discarding until the
/// real terminator, so nothing after a smuggled "end" is read as commands.
#[derive(Debug)]
pub struct DataReceiver {
    max_size: usize,
    body: Vec<u8>,
    /// Bytes already handed out by [`DataReceiver::take_body`] (spooled).
    taken: usize,
    state: DataState,
    error: Option<DataError>,
}

impl DataReceiver {
    /// A receiver for one DATA body of at most `max_size` bytes.
    pub fn new(max_size: usize) -> DataReceiver {
        DataReceiver {
            max_size,
            body: Vec::new(),
            taken: 0,
            state: DataState::LineStart,
            error: None,
        }
    }

    /// Consumes bytes from `input`. Returns how many were used, and the
    /// outcome once the terminator was read (bytes after it are not used).
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Result<Vec<u8>, DataError>>) {
        let mut i = 0;
        while i < input.len() {
            if self.state == DataState::InLine {
                // The rest of a line up to CR or LF is plain content: copy
                // it whole rather than byte by byte.
                let run = memchr::memchr2(b'\r', b'\n', &input[i..]).unwrap_or(input.len() - i);
                if run > 0 {
                    self.push(&input[i..i + run]);
                    i += run;
                    continue;
                }
            }
            let b = input[i];
            i += 1;
            if self.step(b) {
                let out = match self.error {
                    Some(e) => Err(e),
                    None => Ok(std::mem::take(&mut self.body)),
                };
                return (i, Some(out));
            }
        }
        (i, None)
    }

    /// The body received so far and not yet taken, handed out (to the
    /// spool) so it need not stay in memory; the size limit still counts
    /// it. After an error there is nothing to take.
    pub(crate) fn take_body(&mut self) -> Vec<u8> {
        self.taken += self.body.len();
        std::mem::take(&mut self.body)
    }

    /// Bytes received and not yet taken.
    pub(crate) fn pending(&self) -> usize {
        self.body.len()
    }

    /// One byte through the state machine; true at the terminator.
    fn step(&mut self, b: u8) -> bool {
        use DataState::*;
        match (self.state, b) {
            (LineStart, b'.') => self.state = Dot,
            (DotCr, b'\n') => return true,
            (Cr, b'\n') => {
                self.push(b"\r\n");
                self.state = LineStart;
            }
            (Cr | DotCr, _) => {
                // A CR not followed by LF: refuse, then read `b` afresh.
                self.fail(DataError::BareLineEnding);
                self.state = InLine;
                return self.step(b);
            }
            (_, b'\n') => {
                self.fail(DataError::BareLineEnding);
                self.state = InLine;
            }
            (Dot, b'\r') => self.state = DotCr,
            (_, b'\r') => self.state = Cr,
            (LineStart | InLine | Dot, _) => {
                // In state Dot the leading dot is dropped: dot-unstuffing.
                self.push(&[b]);
                self.state = InLine;
            }
        }
        false
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if self.taken + self.body.len() + bytes.len() > self.max_size {
            self.fail(DataError::TooBig);
            return;
        }
        self.body.extend_from_slice(bytes);
    }

    fn fail(&mut self, e: DataError) {
        if self.error.is_none() {
            self.error = Some(e);
            self.body = Vec::new();
        }
    }
}

/// Dot-stuffs `raw` for sending after DATA and appends the terminator. A
/// message not ending in CRLF gets one, as the terminator needs it.
pub fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64 + 5);
    for piece in Stuffed::new(raw, usize::MAX) {
        out.extend_from_slice(&piece);
    }
    out
}

/// [`dot_stuff`] in pieces of at most about `chunk` bytes, so the relay
/// client can write a big message without a second, stuffed copy of it in
/// memory (issue 14). Lines are cut anywhere: a dot only matters at the
/// start of a line, and that is remembered across pieces.
pub(crate) struct Stuffed<'a> {
    rest: &'a [u8],
    chunk: usize,
    at_line_start: bool,
    needs_crlf: bool,
    done: bool,
}

impl<'a> Stuffed<'a> {
    pub(crate) fn new(raw: &'a [u8], chunk: usize) -> Stuffed<'a> {
        Stuffed {
            rest: raw,
            chunk: chunk.max(1),
            at_line_start: true,
            needs_crlf: !raw.is_empty() && !raw.ends_with(b"\r\n"),
            done: false,
        }
    }
}

impl Iterator for Stuffed<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut out = Vec::with_capacity(self.chunk.min(self.rest.len() + 8) + 8);
        while !self.rest.is_empty() && out.len() < self.chunk {
            if self.at_line_start && self.rest[0] == b'.' {
                out.push(b'.');
            }
            let room = (self.chunk - out.len().min(self.chunk)).clamp(1, self.rest.len());
            let n = memchr::memchr(b'\n', &self.rest[..room]).map_or(room, |i| i + 1);
            out.extend_from_slice(&self.rest[..n]);
            self.at_line_start = self.rest[n - 1] == b'\n';
            self.rest = &self.rest[n..];
        }
        if self.rest.is_empty() {
            if self.needs_crlf {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b".\r\n");
            self.done = true;
        }
        Some(out)
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
