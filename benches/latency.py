#!/usr/bin/env python3
"""Per-message latency through one SMTP session: the time from MAIL FROM to
the reply to the final dot, for COUNT messages of SIZE bytes, sent one after
another to HOST:PORT. Prints p50 and p99 in milliseconds.

    python3 benches/latency.py PORT SIZE COUNT
"""
import smtplib
import sys
import time


def message(size):
    line = "Quarterly figures were discussed at the meeting on Monday as agreed.\r\n"
    head = ("From: a@firm.example\r\nTo: someone@partner.example\r\n"
            "Subject: latency probe\r\n\r\n")
    body = line * (size // len(line) + 1)
    return (head + body)[:size].encode()


def main():
    port, size, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    msg = message(size)
    took = []
    with smtplib.SMTP("127.0.0.1", port) as s:
        s.ehlo("bench")
        for _ in range(count):
            start = time.perf_counter()
            s.mail("a@firm.example")
            s.rcpt("someone@partner.example")
            code, _ = s.data(msg)
            took.append((time.perf_counter() - start) * 1000)
            if code != 250:
                sys.exit(f"message refused: {code}")
    took.sort()
    p = lambda q: took[min(len(took) - 1, int(q * len(took)))]
    print(f"{p(0.50):.2f} {p(0.99):.2f}")


if __name__ == "__main__":
    main()
