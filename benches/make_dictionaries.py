#!/usr/bin/env python3
"""Writes a large firm's dictionaries (clients.csv, matters.csv, waivers.csv)
into DIR: CLIENTS clients with names, aliases and domains, MATTERS matters in
three numbering styles. Deterministic, so runs compare.

    python3 benches/make_dictionaries.py DIR [CLIENTS] [MATTERS]
"""
import random
import sys
from pathlib import Path

SYLLABLES = ["har", "row", "gate", "mer", "id", "ian", "tan", "ker", "quin", "ver",
             "north", "wick", "sil", "ver", "tem", "ple", "ash", "ford", "bel", "mont",
             "cal", "dor", "ven", "lor", "pen", "rith", "sto", "vale", "brook", "ley"]
SUFFIXES = ["Ltd", "LLP", "Holdings", "Group", "plc", "Inc", "GmbH", "SA"]


def word(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def main():
    out = Path(sys.argv[1])
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    matters = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    with open(out / "clients.csv", "w") as f:
        f.write("client_id,name,aliases,domains\n")
        for i in range(clients):
            a, b = word(rng), word(rng)
            f.write(f"C-{i},{a} {b} {rng.choice(SUFFIXES)},{a} {b},{a.lower()}-{b.lower()}.example\n")
    with open(out / "matters.csv", "w") as f:
        f.write("matter_number,client_id,description,cocounsel_domains,screened\n")
        for i in range(matters):
            n = (f"{2000 + i % 26}-{i:06}", f"LIT/{10 + i % 15}/{i:06}",
                 f"{1 + i % 9}:{10 + i % 15}-cv-{i:06}")[i % 3]
            f.write(f"{n},C-{rng.randrange(clients)},Matter {i},,\n")
    (out / "waivers.csv").write_text("client_id,recipient,expires,reference\n")


if __name__ == "__main__":
    main()
