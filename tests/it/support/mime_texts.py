"""The reference MIME reader for tests/it/differential_mime.rs: Python's own
`email` package (policy.default, the modern parser), which many mail tools
are built on. For every file named on stdin (one path per line) it prints
one JSON line: the decoded text of every text/* leaf it finds (HTML leaves
are left to the Chromium differential), attachments included; and the
names it shows: the display names of the address headers and the file
name of every part."""
import email
import email.policy
import json
import sys


def texts(msg):
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_maintype() != "text":
            continue
        if part.get_content_subtype() == "html":
            continue
        try:
            text = part.get_content()
        except (LookupError, UnicodeError, ValueError, AssertionError, KeyError):
            # Python cannot read it (an unknown charset): not a reference.
            continue
        if isinstance(text, str):
            out.append(text)
    return out


ADDRESS_HEADERS = ("from", "to", "cc", "bcc", "reply-to", "sender")


def clean(text):
    """Undecodable bytes come back from the parser as lone surrogates,
    which JSON readers refuse: each becomes U+FFFD."""
    return str(text).encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def names(msg):
    out = []
    for h in ADDRESS_HEADERS:
        for value in msg.get_all(h, []):
            try:
                out.extend(a.display_name for a in value.addresses if a.display_name)
            except (AttributeError, ValueError, IndexError):
                continue
    for part in msg.walk():
        try:
            name = part.get_filename()
        except (LookupError, UnicodeError, ValueError):
            continue
        if name:
            out.append(str(name))
    return out


for line in sys.stdin:
    path = line.rstrip("\n")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        subject = str(msg.get("subject", ""))
        print(json.dumps({
            "texts": [clean(t) for t in texts(msg)],
            "subject": clean(subject),
            "names": [clean(n) for n in names(msg)],
        }))
    except Exception as e:  # a parser crash is not a reading
        print(json.dumps({"error": type(e).__name__}))
