#!/usr/bin/env python3
"""A ~100 MB message for measuring extraction's peak memory: a short text
body and one base64 attachment, a ZIP of about 75 MB holding text files
(stored members and deflated ones, half each, 1 MB apiece); with
`--binary` the members are random bytes instead (read as unknown binary,
so the figure is extraction's memory without the detectors' work).

    python3 benches/make_big_message.py /tmp/big.eml [--zip-mb 75]
    /usr/bin/time -v target/debug/matterwall --config C check \
        --from a@firm.example --to b@outside.example /tmp/big.eml

The text is pseudo-random words from a fixed seed, so the file is the same
on every run and deflate cannot shrink it to nothing.
"""
import argparse
import base64
import io
import random
import zipfile

WORDS = (
    "the of and to in a is that for it as with was on be by this are from at "
    "agreement party clause schedule shipment invoice delivery notice letter "
    "counsel matter review draft signed terms period payment vessel cargo"
).split()


def member_binary(rng, size):
    return rng.randbytes(size)


def member_text(rng, size):
    out = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out)[:size].encode()


def build_zip(megabytes, rng, binary=False):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        i = 0
        while buf.tell() < megabytes * 1024 * 1024:
            method = zipfile.ZIP_STORED if i % 2 == 0 else zipfile.ZIP_DEFLATED
            if binary:
                data, name = member_binary(rng, 1 << 20), f"notes/part-{i:04}.bin"
            else:
                data, name = member_text(rng, 1 << 20), f"notes/part-{i:04}.txt"
            z.writestr(name, data, method)
            i += 1
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--zip-mb", type=int, default=75)
    ap.add_argument(
        "--binary",
        action="store_true",
        help="random-byte members: extraction's memory alone, no text to detect in",
    )
    args = ap.parse_args()
    rng = random.Random(12)
    data = build_zip(args.zip_mb, rng, args.binary)
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    head = (
        "From: B Associate <b.associate@firm.example>\r\n"
        "To: someone@outside.example\r\n"
        "Subject: notes\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "The notes are attached.\r\n"
        "--b1\r\nContent-Type: application/zip; name=\"notes.zip\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="notes.zip"\r\n\r\n'
    ).encode()
    with open(args.out, "wb") as f:
        f.write(head)
        f.write(b64)
        f.write(b"--b1--\r\n")


if __name__ == "__main__":
    main()
