#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_http (tests/fuzz/corpus/fuzz_http/).

Each seed follows the input layout read by fuzz_http.c: a fixed header of
sizes and numbers, then NUL-separated strings (Link header, rel, URL,
Retry-After value, header name) and raw header lines.  Deterministic.

    python3 tests/fuzz/gen_http_seeds.py [OUTDIR]
"""
import os
import struct
import sys


def fz_long(v):
    # selector >= 160: the next 8 bytes are the value (fuzz.h fz_long)
    return bytes([200]) + struct.pack("<q", v)


def seed(link_outlen, url_outlen, now, retry, base, maxms, rng, link, rel, url,
         retry_after, name, lines):
    head = (struct.pack("<BHQI", link_outlen, url_outlen, now, retry & 0xFFFFFFFF)
            + fz_long(base) + fz_long(maxms) + struct.pack("<I", rng))
    strings = b"\0".join(s.encode() if isinstance(s, str) else s
                         for s in (link, rel, url, retry_after, name))
    return head + strings + b"\0" + b"".join(lines)


SEEDS = {
    "github-paging": seed(
        200, 256, 1764806400, 1, 1000, 30000, 1,
        '<https://api.example.com/items?page=2>; rel="next", '
        '<https://api.example.com/items?page=9>; rel="last"',
        "last", "https://user:secret@eu.myconnectwise.net:8443/v4_6_release/apis/3.0/company?x=1#frag",
        "120", "Content-Type",
        [b"HTTP/1.1 429 Too Many Requests\r\n", b"Retry-After: 120\r\n",
         b"Link: <https://a.example/p2>; rel=next\r\n", b"content-type: application/json\r\n", b"\r\n"]),
    "http-date": seed(
        64, 40, 1764806400, 3, 500, 8000, 0xDEADBEEF,
        "<https://x/1>; rel=\"prev first\", <https://x/3>; REL = \"next\"", "NEXT",
        "http://127.0.0.1/path/to/thing", "Wed, 21 Oct 2015 07:28:00 GMT", "retry-after",
        [b"retry-after:   Fri, 31 Dec 2049 23:59:59 GMT  \r\n", b"LINK:<u>;rel=next\n"]),
    "odd-urls": seed(
        1, 0, 0, 70, 1, -1, 0,
        "<>; rel=next", "next", "HTTPS://[::1]:99999/%zz?q", "  99999999999999999999 \r\n", "Link",
        [b"Link:\r\n", b"Link : x\r\n", b"Retry-After\r\n", b"Retry-After:\t\t\r\n"]),
    "saturating-backoff": seed(
        255, 599, (1 << 33) - 1, 0x7FFFFFFF, 0x7FFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 7,
        "<a>;rel=next<b>;rel=next", "next", "ftp://host/file", "Sunday, 06-Nov-94 08:49:37 GMT", "X",
        [b"X: y"]),
    "invalid": seed(
        10, 5, 1, -3, -5, 0, 1,
        "no brackets; rel=next", "", "not a url", "soon", "",
        [b"\x00\x01\xff: \r\r\n", b"::::\n"]),
    # regressions: signed overflow in etop_http_backoff_ms (no cap, or a cap
    # above LONG_MAX / 2), and an empty rel matching a quoted leading blank
    "regress-backoff-overflow-uncapped": seed(
        8, 8, 1, 3, 1 << 62, -1, 1, "", "", "", "", "", []),
    "regress-backoff-overflow-huge-cap": seed(
        8, 8, 1, 64, 1000, 0x7FFFFFFFFFFFFFFF, 1, "", "", "", "", "", []),
    # an HTTP-date in the year 2^31 - 1: 6.8e16 s, overflowing the caller's * 1000
    "regress-retry-after-far-date": seed(
        8, 8, 1764806400, 1, 1, 1, 1, "", "", "", "Dec 31 2147483647 23:59:59", "",
        [b"Retry-After: Sun Nov  6 08:49:37 1994999999\r\n"]),
    "regress-empty-rel": seed(
        64, 8, 1, 1, 1, 1, 1, '<https://x/2>; rel=" next"', "", "", "", "", []),
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_http")
    os.makedirs(outdir, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), outdir))


if __name__ == "__main__":
    main()
