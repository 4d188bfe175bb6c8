#!/usr/bin/env python3
"""Makes the benchmark messages for benches/attachments.sh in the folder given
as the first argument: a ~5 MB PDF, a ~5 MB DOCX and a ZIP of both, each in
its own MIME message (base64), plus a message carrying all three.

Needs: pip install reportlab python-docx
Deterministic (seeded), so runs compare.
"""
import io
import os
import random
import struct
import sys
import zipfile
import zlib
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

OUT = sys.argv[1]
rng = random.Random(7)
WORDS = ("the court held that counsel for the respondent shall file a reply "
         "within fourteen days of service of the notice and the tribunal may "
         "extend time where the interests of justice require").split()


# A client of rules/clients.csv, placed at the very end of each document.
MARKER = "Closing note for Harrowgate Shipping."


def sentence():
    return " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "."


def pdf():
    """Text pages, Flate-compressed: ~5 MB of PDF is mostly text to decode."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=1, invariant=1)
    # reportlab writes on save; 2,100 pages of 60 lines come to about 5 MB.
    for _ in range(2100):
        for line in range(60):
            c.drawString(40, 800 - line * 13, sentence())
        c.showPage()
    # The client on the last page: a match proves the whole file was read.
    c.drawString(40, 800, MARKER)
    c.showPage()
    c.save()
    return buf.getvalue()


def noise_png(width, height):
    """An incompressible PNG, like the photos and scans that make DOCX big."""
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def docx():
    from docx import Document
    from docx.shared import Inches

    d = Document()
    for _ in range(6000):
        d.add_paragraph(" ".join(sentence() for _ in range(3)))
    d.add_paragraph(MARKER)
    d.add_picture(io.BytesIO(noise_png(1500, 1000)), width=Inches(5))
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def message(attachments, path):
    m = MIMEMultipart()
    m["From"] = "b.associate@firm.example"
    m["To"] = "someone@example.com"
    m["Subject"] = "Bundle"
    m.attach(MIMEText("Please see attached.\n"))
    for name, data in attachments:
        part = MIMEApplication(data, Name=name)
        part["Content-Disposition"] = f'attachment; filename="{name}"'
        m.attach(part)
    with open(path, "wb") as f:
        f.write(m.as_bytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    p, d = pdf(), docx()
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("brief.pdf", p)
        z.writestr("memo.docx", d)
    z = zbuf.getvalue()
    message([("brief.pdf", p)], os.path.join(OUT, "pdf.eml"))
    message([("memo.docx", d)], os.path.join(OUT, "docx.eml"))
    message([("bundle.zip", z)], os.path.join(OUT, "zip.eml"))
    message([("brief.pdf", p), ("memo.docx", d), ("bundle.zip", z)], os.path.join(OUT, "all.eml"))
    for name, data in (("pdf", p), ("docx", d), ("zip", z)):
        print(f"{name}: {len(data) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
