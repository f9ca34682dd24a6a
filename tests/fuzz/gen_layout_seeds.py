#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_layout (tests/fuzz/corpus/fuzz_layout/).

Each seed follows the input layout read by fuzz_layout.c: the test font's
widths, the wrap width and line-array size, numbers for the pagination,
axis, gauge and formatting helpers, five strings, six risks, and the text
to wrap.  Deterministic.

    python3 tests/fuzz/gen_layout_seeds.py [OUTDIR]
"""
import os
import struct
import sys


def fz_double(v):
    return bytes([200]) + struct.pack("<d", v)      # raw bits (fuzz.h fz_double)


def fz_long(v):
    return bytes([200]) + struct.pack("<q", v)      # raw bits (fuzz.h fz_long)


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def seed(widths, width, max_lines, avail, line_h, axis_max, ticks, score, hib,
         levels, currency, month, color, word, v, money, score2, part, whole,
         size, size2, risks, k, text):
    out = bytes((widths[i] & 15) | ((widths[i + 1] & 15) << 4) for i in range(0, 16, 2))
    out += bytes([width % 61 if width < 61 else 200])
    if width >= 61:
        out += fz_double(float(width))
    out += bytes([max_lines])
    out += fz_double(avail) + fz_double(line_h) + fz_long(axis_max)
    out += struct.pack("<i", ticks) + fz_double(score) + bytes([1 if hib else 0])
    out += b"".join(cstr(s) for s in levels + [currency, month, color, word])
    out += fz_long(v) + fz_double(money) + fz_double(score2) + fz_long(part) + fz_long(whole)
    out += bytes([size, size2, len(risks), k + 1])
    out += b"".join(bytes(r) for r in risks)
    return out + (text.encode() if isinstance(text, str) else text)


MONO = [1] * 16
NARRATIVE = (
    "Müller & Söhne finished the year in good health: Standards rose to 83, Risk fell to 15 and "
    "Experience held at 78 [Ticket #4411].\n"
    "The biggest win was the ERP server: zero unplanned downtime after the October patch window "
    "[Device: SRV-ERP-01].\n\n  Next quarter's priority is replacing twelve workstations older "
    "than four years before their warranties lapse [Device: WS-ACCT-07].")

SEEDS = {
    "narrative": seed(MONO, 40, 16, 100, 12, 108, 5, 83, True,
                      ["high", "Medium", "3", "banana"], "EUR", "2025-01", "#1F4e79", "open",
                      1234567, 48000, 83.45, 942, 1000, 48, 16,
                      [(5, 5), (3, 10), (16, 17), (0, 0), (6, 2), (9, 11)], 5, NARRATIVE),
    "utf8-break": seed([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1], 3, 3, 96, 12, 7, 5, 99.96, False,
                       ["low", "LOW", "critical", "Very High"], "CHF", "2025-12-01", "1F4E79", "",
                       -45000, 18400.4, -0.05, 1, 3, 7, 5,
                       [(1, 2), (2, 1)], 1,
                       "ÄÖÜäöüß 日本語のテキスト Ελλάδα Привет emoji \U0001F600 end naïve café – “quoted” … €100"),
    "long-word-and-blanks": seed([2] * 16, 10, 1, 95.99, 12, 123456, 5, 140, True,
                                 ["", "5", "0", "moderate"], "", "Week 3", "#GGGGGG", "x" * 300,
                                 -9223372036854775808, 9.3e18, 1e300, 5, 0, 3, 0, [], 0,
                                 "   \n \n" + "abcdefghijklm" * 30 + " xy\n\t a\tb\rc \x00 d\n"),
    "invalid-utf8-zero-widths": seed([0, 0, 5, 0, 9, 0, 15, 0, 0, 7, 0, 0, 1, 0, 0, 0], 0, 64,
                                     -3, 0, 0, 0, float("nan"), True,
                                     ["1", "2", "3", "4"], "INR", "2025-13", "#000000", "\xe9t\xe9",
                                     999, float("inf"), float("-inf"), -1, 10, 1, 1,
                                     [(17, 17)] * 8, 9,
                                     b"bad \xff\xfe utf-8 truncated \xe2\x82 \x80\x80 \xf0\x9f lone\xc3"),
    "wide-glyphs": seed([15] * 16, 200, 5, 1e300, 1e-300, 9223372036854775807, 1, -5, False,
                        ["critical", "critical", "high", "high"], "JPY", "2025-1", "#abcdef", "Zed",
                        0, -0.0, 0.5, 9223372036854775807, 1, 40, 16,
                        [(6, 6), (6, 6), (6, 6)], 2, "W W W WW WWW\nWWWW"),
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_layout")
    os.makedirs(outdir, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), outdir))


if __name__ == "__main__":
    main()
