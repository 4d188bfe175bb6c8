//! Table-driven tests for the codec: commands, line limits, and every DATA
//! smuggling and dot-stuffing vector of RELIABILITY §1 items 1–3.

use super::*;

/// Feeds `input` in one go, then byte by byte, then split in two at every
/// position; all must agree.
fn receive(input: &[u8]) -> (usize, Option<Result<Vec<u8>, DataError>>) {
    let whole = DataReceiver::new(1000).feed(input);
    for cut in 0..input.len() {
        let mut r = DataReceiver::new(1000);
        let (n, out) = r.feed(&input[..cut]);
        let got = match out {
            Some(o) => (n, Some(o)),
            None => {
                let (m, out) = r.feed(&input[cut..]);
                (n + m, out)
            }
        };
        assert_eq!(got, whole, "split at {cut} changed the outcome");
    }
    let mut r = DataReceiver::new(1000);
    let mut used = 0;
    let mut out = None;
    for &b in input {
        let (n, o) = r.feed(&[b]);
        used += n;
        if o.is_some() {
            out = o;
            break;
        }
    }
    assert_eq!((used, out.clone()), whole, "chunking changed the outcome");
    whole
}

#[test]
fn data_terminators_and_smuggling() {
    use DataError::BareLineEnding as Bare;
    // (input, bytes consumed, outcome)
    let smuggle = b"MAIL FROM:<x@evil.test>\r\nRCPT TO:<y@evil.test>\r\nDATA\r\n";
    type Case = (Vec<u8>, Result<&'static [u8], DataError>);
    let cases: Vec<Case> = vec![
        (b"hi\r\n.\r\n".to_vec(), Ok(b"hi\r\n")),
        (b".\r\n".to_vec(), Ok(b"")),
        (b"a\n.\nb\r\n.\r\n".to_vec(), Err(Bare)),
        (b"a\n.\r\nb\r\n.\r\n".to_vec(), Err(Bare)),
        (b"a\r\n.\nb\r\n.\r\n".to_vec(), Err(Bare)),
        (b"a\r.\rb\r\n.\r\n".to_vec(), Err(Bare)),
        (b"a\r\n.\r\r\nb\r\n.\r\n".to_vec(), Err(Bare)),
        (b"a\r\n.\r\r\r\nb\r\n.\r\n".to_vec(), Err(Bare)),
        (b"bare\rcr\r\n.\r\n".to_vec(), Err(Bare)),
        (b"bare\nlf\r\n.\r\n".to_vec(), Err(Bare)),
        (b"\n.\r\n\r\n.\r\n".to_vec(), Err(Bare)),
        (b"end cr\r\r\n.\r\n".to_vec(), Err(Bare)),
    ];
    for (mut input, want) in cases {
        let body_end = input.len();
        input.extend_from_slice(smuggle);
        let (used, out) = receive(&input);
        let shown = String::from_utf8_lossy(&input[..body_end]).into_owned();
        assert_eq!(used, body_end, "{shown:?}: stopped at the wrong place");
        assert_eq!(out.unwrap().as_deref().map_err(|e| *e), want, "{shown:?}");
    }
}

#[test]
fn smuggled_end_never_ends_data() {
    // Without a real terminator, nothing ends the message.
    for input in [
        &b"a\n.\nMAIL FROM:<x@y>\n"[..],
        b"a\r\n.\nRSET\r\n",
        b"a\n.\r\nQUIT\r\n",
        b"a\r.\rQUIT\r\n",
        b"a\r\n.\r\r\nQUIT\r\n",
    ] {
        assert_eq!(receive(input), (input.len(), None), "{input:?}");
    }
}

#[test]
fn dot_unstuffing() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"..\r\n.\r\n", b".\r\n"),
        (b".x\r\n.\r\n", b"x\r\n"),
        (b"...\r\n.\r\n", b"..\r\n"),
        (b"..first\r\nsecond\r\n.\r\n", b".first\r\nsecond\r\n"),
        (b"a\r\n..\r\n..\r\n.\r\n", b"a\r\n.\r\n.\r\n"),
        (b"ends with a dot.\r\n.\r\n", b"ends with a dot.\r\n"),
        (b"\r\n\r\n.\r\n", b"\r\n\r\n"),
    ];
    for (input, want) in cases {
        let (_, out) = receive(input);
        assert_eq!(
            out.unwrap().unwrap(),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn stuffing_round_trips() {
    let bodies: &[&[u8]] = &[
        b"",
        b".\r\n",
        b"..\r\n",
        b".x\r\n",
        b".\r\n.\r\n.\r\n",
        b"a.\r\n.b\r\n\r\n.\r\n",
        b"\xff\xfe 8-bit \x80\r\n",
        b"a long line of text before the stuffing\r\n.starts with a dot\r\n",
    ];
    for body in bodies {
        let wire = dot_stuff(body);
        let (used, out) = receive(&wire);
        assert_eq!(used, wire.len());
        assert_eq!(out.unwrap().unwrap(), *body);
    }
}

#[test]
fn stuffing_in_pieces_is_the_same_bytes() {
    let bodies: &[&[u8]] = &[
        b"",
        b".",
        b".\r\n.\r\n..x\r\n",
        b"a.\r\n.b\r\n\r\n.\r\n",
        b"no final line end.",
        b"a long line of text before the stuffing\r\n.starts with a dot\r\n",
    ];
    for body in bodies {
        let whole = dot_stuff(body);
        for chunk in [1, 2, 3, 5, 8, 64, 1 << 16] {
            let pieces: Vec<Vec<u8>> = super::Stuffed::new(body, chunk).collect();
            assert_eq!(pieces.concat(), whole, "{body:?} in pieces of {chunk}");
            assert!(
                pieces.iter().all(|p| p.len() <= chunk + 6),
                "{body:?}: a piece over {chunk}"
            );
        }
    }
}

#[test]
fn stuffing_ends_an_unterminated_body() {
    assert_eq!(dot_stuff(b"a\r\n.b"), b"a\r\n..b\r\n.\r\n");
    assert_eq!(dot_stuff(b"."), b"..\r\n.\r\n");
    assert_eq!(dot_stuff(b""), b".\r\n");
}

#[test]
fn size_limit_enforced_while_streaming() {
    let mut r = DataReceiver::new(10);
    let mut input = vec![b'x'; 5000];
    input.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
    let (used, out) = r.feed(&input);
    assert_eq!(out, Some(Err(DataError::TooBig)));
    assert_eq!(used, input.len() - 6);
    assert!(r.body.capacity() <= 10, "buffered past the limit");
    // Exactly at the limit is fine; one over is not.
    assert_eq!(
        DataReceiver::new(10).feed(b"12345678\r\n.\r\n").1,
        Some(Ok(b"12345678\r\n".to_vec()))
    );
    assert_eq!(
        DataReceiver::new(10).feed(b"123456789\r\n.\r\n").1,
        Some(Err(DataError::TooBig))
    );
}

/// What is taken out for the spool still counts toward the limit, and the
/// pieces taken plus the rest are the whole body.
#[test]
fn taken_bytes_count_toward_the_limit() {
    let mut r = DataReceiver::new(10);
    assert_eq!(r.feed(b"123456").1, None);
    assert_eq!(r.pending(), 6);
    let first = r.take_body();
    assert_eq!((first.as_slice(), r.pending()), (&b"123456"[..], 0));
    assert_eq!(r.feed(b"78\r\n.\r\n").1, Some(Ok(b"78\r\n".to_vec())));
    let mut r = DataReceiver::new(10);
    r.feed(b"123456");
    r.take_body();
    assert_eq!(r.feed(b"789\r\n.\r\n").1, Some(Err(DataError::TooBig)));
}

#[test]
fn commands() {
    let mail = |from: &str, params: MailParams| {
        Ok(Request::Mail {
            from: from.into(),
            params,
        })
    };
    let cases: Vec<(&[u8], Result<Request, ParseError>)> = vec![
        (
            b"EHLO mx.firm.example",
            Ok(Request::Ehlo("mx.firm.example".into())),
        ),
        (b"helo x", Ok(Request::Helo("x".into()))),
        (b"EHLO", Err(ParseError::Syntax)),
        (b"MAIL FROM:<a@b.c>", mail("a@b.c", MailParams::default())),
        (b"mail from: <a@b.c>", mail("a@b.c", MailParams::default())),
        (b"MAIL FROM:<>", mail("", MailParams::default())),
        (
            b"MAIL FROM:<a@b.c> SIZE=1000 BODY=8BITMIME SMTPUTF8",
            mail(
                "a@b.c",
                MailParams {
                    size: Some(1000),
                    eight_bit: true,
                    smtputf8: true,
                },
            ),
        ),
        (b"MAIL FROM:<a@b.c> SIZE=lots", Err(ParseError::Syntax)),
        (b"MAIL FROM:<a@b.c> RET=FULL", Err(ParseError::BadParameter)),
        (b"MAIL FROM:a@b.c", Err(ParseError::BadPath)),
        (b"MAIL FROM:<a@b.c", Err(ParseError::BadPath)),
        (b"MAIL TO:<a@b.c>", Err(ParseError::Syntax)),
        (b"RCPT TO:<x@y.z>", Ok(Request::Rcpt { to: "x@y.z".into() })),
        (
            b"RCPT TO:<\"a b>\"@y.z>",
            Ok(Request::Rcpt {
                to: "\"a b>\"@y.z".into(),
            }),
        ),
        (
            b"RCPT TO:<@firm.test:a@evil.test>",
            Ok(Request::Rcpt {
                to: "@firm.test:a@evil.test".into(),
            }),
        ),
        (b"RCPT TO:<>", Err(ParseError::BadPath)),
        (b"RCPT TO:<a b@c>", Err(ParseError::BadPath)),
        (b"RCPT TO:<a@b>x", Err(ParseError::BadPath)),
        (b"RCPT TO:<a@b> NOTIFY=NEVER", Err(ParseError::BadParameter)),
        (b"RCPT TO:<a\x01@b>", Err(ParseError::BadPath)),
        (b"DATA", Ok(Request::Data)),
        (b"DATA now", Err(ParseError::Syntax)),
        (b"RSET", Ok(Request::Rset)),
        (b"NOOP anything", Ok(Request::Noop)),
        (b"QUIT", Ok(Request::Quit)),
        (b"VRFY root", Ok(Request::Vrfy)),
        (b"EXPN staff", Ok(Request::Expn)),
        (b"STARTTLS", Ok(Request::StartTls)),
        (b"BDAT 10 LAST", Ok(Request::Bdat)),
        (b"XYZZY", Err(ParseError::Unrecognised)),
        (b"MAIL\0 FROM:<a@b>", Err(ParseError::NulByte)),
        (b"RCPT TO:<\xff@b>", Err(ParseError::Syntax)),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse_command(line),
            want,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn line_reader_bounds_memory() {
    let mut r = LineReader::default();
    let mut buf = b"NOOP\r\nQUIT\n".to_vec();
    assert_eq!(
        r.next_line(&mut buf),
        Some(Line::Complete(b"NOOP".to_vec()))
    );
    assert_eq!(
        r.next_line(&mut buf),
        Some(Line::Complete(b"QUIT".to_vec()))
    );
    assert_eq!(r.next_line(&mut buf), None);
    // A 1 MB line arriving in pieces never holds more than MAX_LINE + a chunk.
    for _ in 0..256 {
        buf.extend_from_slice(&[b'A'; 4096]);
        assert_eq!(r.next_line(&mut buf), None);
        assert!(buf.len() <= MAX_LINE + 4096);
    }
    buf.extend_from_slice(b"AAAA\r\nNOOP\r\n");
    assert_eq!(r.next_line(&mut buf), Some(Line::TooLong));
    assert_eq!(
        r.next_line(&mut buf),
        Some(Line::Complete(b"NOOP".to_vec()))
    );
}

#[test]
fn replies() {
    assert_eq!(Reply::new(250, "ok").to_bytes(), b"250 ok\r\n");
    assert_eq!(
        Reply::new(250, "a\nb\nc").to_bytes(),
        b"250-a\r\n250-b\r\n250 c\r\n"
    );
}
