#!/usr/bin/python3
"""SQL-level fuzzer for etop (run by tests/integration/sql_fuzz.sh).

Logs in as each role of SQL_FUZZ_ROLES and calls every function of schema
etop that the role may EXECUTE (from the catalog), with arguments mutated
from valid values the extension produced itself.  A witness session, opened
first, must survive every batch; the fuzzing sessions must keep their
backend PIDs; the postmaster must not have restarted (start time) nor gone
through crash recovery (pg_stat_bgwriter.stats_reset: PostgreSQL 15 throws
the statistics away after a crash, while pg_postmaster_start_time() stays
the same); the server log, when readable, must not name a crashed process.
Any of those fails the run and prints the exact statement.

Environment (set by sql_fuzz.sh; libpq's PG* variables give host and port):
  SQL_FUZZ_DB, SQL_FUZZ_ROLES ("role role"), SQL_FUZZ_PASSWORD,
  SQL_FUZZ_FUZZ_SECONDS, SQL_FUZZ_SEED, SQL_FUZZ_OUT, SQL_FUZZ_CONTINUE,
  SQL_FUZZ_SERVER_LOG, SQL_FUZZ_DATA (tests/data, for qbr_example.json),
  SQL_FUZZ_VERBOSE=1 (the commonest error messages of each function),
  SQL_FUZZ_ONLY (a regular expression: only the functions whose signature it matches).
Python standard library plus psycopg2 (Debian's python3-psycopg2).
"""
import base64
import copy
import json
import os
import random
import re
import struct
import sys
import tempfile
import time
import traceback
import zlib

import psycopg2
import psycopg2.extensions

sys.setrecursionlimit(20000)

# Dates, times and intervals as the server's text: Python's types cannot hold
# 'infinity' or years before 1 (the results only matter as seeds anyway).
for _oids, _name in (((1082, 1083, 1114, 1184, 1186, 1266), "ETOP_TEXT"),
                     ((1182, 1183, 1115, 1185, 1187, 1270), "ETOP_TEXT_ARRAY")):
    psycopg2.extensions.register_type(psycopg2.extensions.new_type(_oids, _name, lambda v, cur: v))

SEED = int(os.environ.get("SQL_FUZZ_SEED", "1"))
FUZZ_SECONDS = float(os.environ.get("SQL_FUZZ_FUZZ_SECONDS", "55"))
SETUP_SECONDS = float(os.environ.get("SQL_FUZZ_SETUP_SECONDS", "0"))
DB = os.environ.get("SQL_FUZZ_DB", "etop_it")
ROLES = os.environ.get("SQL_FUZZ_ROLES", "etop_fuzz_reader etop_fuzz_am").split()
PASSWORD = os.environ.get("SQL_FUZZ_PASSWORD") or None
CONTINUE = os.environ.get("SQL_FUZZ_CONTINUE", "") == "1"
VERBOSE = os.environ.get("SQL_FUZZ_VERBOSE", "") == "1"
ONLY = os.environ.get("SQL_FUZZ_ONLY")      # a regular expression: fuzz only the functions it finds
DATA = os.environ.get("SQL_FUZZ_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
OUT = os.environ.get("SQL_FUZZ_OUT") or tempfile.mkdtemp(prefix="etop-sql-fuzz.")
os.makedirs(OUT, exist_ok=True)

CALL_TIMEOUT_MS = 5000        # statement_timeout of every call
BATCH = 20                    # statements between two crash checks
MAX_INPUT = 2_000_000         # bytes of one statement, at most
T_START = time.monotonic()
DEADLINE = T_START + FUZZ_SECONDS

# SQLSTATEs that mean the server (or this session) went down, not the call failed.
CRASH_STATES = {"57P01", "57P02", "57P03", "XX001", "XX002"}


def log(msg):
    print("sql_fuzz: " + msg, flush=True)


def one_line(e):
    return " ".join(str(e).split())


def clip(s, n=600):
    return s if len(s) <= n else s[:n] + " ...[%d more chars]" % (len(s) - n)


# ----------------------------------------------------------------- JSON values

class Raw:
    """JSON text written as is (deep nesting, odd escapes, huge numbers)."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


def dumps(v):
    out = []

    def w(v):
        if v is None:
            out.append("null")
        elif v is True:
            out.append("true")
        elif v is False:
            out.append("false")
        elif isinstance(v, Raw):
            out.append(v.text)
        elif isinstance(v, (int, float)):
            out.append(json.dumps(v))
        elif isinstance(v, str):
            out.append(json.dumps(v, ensure_ascii=False))
        elif isinstance(v, list):
            out.append("[")
            for i, e in enumerate(v):
                if i:
                    out.append(",")
                w(e)
            out.append("]")
        elif isinstance(v, dict):
            out.append("{")
            for i, (k, e) in enumerate(v.items()):
                if i:
                    out.append(",")
                out.append(json.dumps(k, ensure_ascii=False))
                out.append(":")
                w(e)
            out.append("}")
        else:
            raise TypeError(type(v))
    w(v)
    return "".join(out)


def kind_of(v):
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    return "raw"


def nodes_of(doc, limit=20000):
    """(parent, key, value) of every node, the root as (None, None, doc)."""
    found = [(None, None, doc)]
    stack = [doc]
    while stack and len(found) < limit:
        v = stack.pop()
        if isinstance(v, dict):
            for k, e in v.items():
                found.append((v, k, e))
                if isinstance(e, (dict, list)):
                    stack.append(e)
        elif isinstance(v, list):
            for i, e in enumerate(v):
                found.append((v, i, e))
                if isinstance(e, (dict, list)):
                    stack.append(e)
    return found


# ------------------------------------------------------------ interesting data

ODD_UTF8 = [
    "Müller & Söhne GmbH", "Ελληνικά", "Кириллица", "日本語のテキスト", "한국어", "مرحبا بالعالم",
    "שלום", "हिन्दी", "ภาษาไทย", "🙂🚀👩‍👩‍👧‍👦", "e\u0301" * 50, "a" + "\u0301" * 3000,
    "\u200b\u200c\u200d\u2060\ufeff", "\u202eevil\u202c", "\uffff\ufffe\ufffd", "\U0010ffff\U000e0001",
    "\u0085\u2028\u2029", "ǅǈǋ ŉ ß ﬁ", "\u00ad" * 100, "\x01\x02\x07\x08\x0b\x0c\x1b[31m\x7f",
    "tab\tand\nnewline\r\n", "\u3000\u00a0 spaces \u2003", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "Z̴̡̢̛̛̛̗̘̙̜̝̞̟̠̦̤̥̦̩̪̫̬̭̮̯̰̱̲̳̹̺̻̼ͅ" * 20,
]
SPECIAL = [
    "", " ", "\n", "\n\n\n", "\t", ".", "-", "%s%s%s%n%x", "%", "\\", "'", "''", "\"", "()", "(", ")",
    "\\(\\)", "<>&;", "/Type /Page", "endstream", "%PDF-1.4", "null", "true", "0", "-1", "NaN",
    "Infinity", "-Infinity", "1e309", "0x10", "１２３", "[Ticket #1]", "[Ticket #", "[Device: ",
    "[Risk: ]", "[Policy: x]", "]]][[[", "[Ticket #[Ticket #1]]", "[Device: x] [Device: y] [Risk: z]",
    "[Ticket #" * 300, "[Policy: " + "p" * 5000 + "]", "DRAFT — pending approval", "Q4 2025",
    "Segment A", "2026-01-15", "2026-02-30", "0000-00-00", "9999-12-31", "infinity", "-infinity",
    "4714-11-24 BC", "294277-01-01", "2026-13-45T25:61:61Z", "#1F4E79", "#FFF", "#GGGGGG",
    "#1F4E79FF", "#", "red", "A", "D", "E", "a4", "A4", "letter", "legal", "USD", "EUR", "JPY", "€",
    "XXXXXXXXXXXXXXXXXXXX", "low", "medium", "high", "critical", "1", "5", "6", "LOW", "High",
    "open", "mitigated", "closed", "pending", "approved", "offline", "openai", "draft", "rejected",
]
KEY_STRINGS = {
    "date": ["2026-01-15", "2025-12-31", "2026-02-30", "0001-01-01", "9999-12-31", "infinity",
             "-infinity", "4714-11-24 BC", "5874897-12-31", "2026-01-15T10:00:00Z", "yesterday",
             "", "2026", "26-1-15", "2026-1-5"],
    "month": ["2025-01", "2025-13", "2025-00", "0000-01", "9999-12", "", "January", "2025-01-01",
              "-001-01", "2025/01"],
    "level": ["low", "medium", "high", "critical", "1", "2", "3", "4", "5", "0", "6", "-1",
              "99999999999999999999", "LOW", "", "very high"],
    "segment": ["A", "B", "C", "D", "E", "", "a", "AA", "Segment A", "Ä"],
    "color": ["#1F4E79", "#000000", "#FFFFFF", "#fff", "#GGGGGG", "#", "#1F4E79FF", "1F4E79",
              "#-1-1-1", "rgb(1,2,3)", "#ZZ"],
    "page_size": ["a4", "A4", "letter", "LETTER", "legal", "", "a0", "a4 "],
    "currency": ["USD", "EUR", "GBP", "JPY", "CAD", "AUD", "NZD", "INR", "CHF", "", "€", "$",
                 "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "usd"],
    "ticket": ["1", "0", "-1", "1e10", "DEMO-00001", "", "#", "]", "9" * 200],
    "period": ["Q4 2025", "Q1 2026", "", "Q5 2025", "Q4 2025" * 500],
    "provider": ["offline", "openai", "", "none", "OFFLINE"],
}
KEY_CLASS = {
    "as_of": "date", "due_date": "date", "warranty_expires": "date", "detected_at": "date",
    "created": "date", "resolved_at": "date", "created_at": "date", "run_after": "date",
    "month": "month", "likelihood": "level", "impact": "level", "severity": "level",
    "priority": "level", "effort": "level", "level": "level", "segment": "segment",
    "accent_color": "color", "page_size": "page_size", "currency": "currency",
    "number": "ticket", "example_ticket": "ticket", "period": "period",
    "previous_period": "period", "provider": "provider",
}
NUMBERS = ["0", "-0", "1", "-1", "0.5", "2.5", "3", "4", "99.99999999999999", "100",
           "100.00000000001", "101", "-0.0001", "199.9", "200", "200.1", "140", "1000000",
           "2147483647", "2147483648", "-2147483648", "-2147483649", "9007199254740993",
           "1e15", "1000000000000001", "1e16", "1e308", "1.7976931348623157e308", "-1e308",
           "1e309", "-1e309", "1e-309", "5e-324", "1e-400", "1e1000", "-1e1000",
           "123456789012345678901234567890.123456789", "0." + "0" * 300 + "1", "1" + "0" * 1000,
           "9" * 5000, "1E+2", "-9223372036854775808", "18446744073709551616", "0.1", "12.0"]


def rep(s, n):
    """s repeated up to n characters (at least once)."""
    if not s:
        return s
    return (s * (n // len(s) + 1))[:max(n, len(s))] if len(s) < n else s


PLAUSIBLE = ["0", "1", "3", "4", "4.0", "5", "12", "50.5", "99", "99.99999999999999", "100",
             "0.0000001", "1e-300", "199.9", "200", "1000", "1000000", "1e15", "999999999999999",
             "123456.789", "0.5", "2", "7"]


class Gen:
    """Random values, strings and numbers, from one seeded Random."""

    def __init__(self, rng):
        self.r = rng

    def long_string(self):
        r = self.r
        n = r.choice([300, 2000, 20000, 100000, 300000])
        how = r.randrange(6)
        if how == 0:
            return "x" * n                                     # one endless word
        if how == 1:
            return rep("word ", n)
        if how == 2:
            return "\n" * (n // 10)
        if how == 3:
            return rep(r.choice(ODD_UTF8) + " ", n // 4)
        if how == 4:
            return rep("[Ticket #1] ", n)
        return "".join(chr(r.randrange(0x20, 0x3000)) for _ in range(min(n, 5000)))

    def string(self, key=None):
        r = self.r
        cls = KEY_CLASS.get(key) if isinstance(key, str) else None
        x = r.random()
        if cls and x < 0.45:
            return r.choice(KEY_STRINGS[cls])
        if x < 0.6:
            return r.choice(SPECIAL)
        if x < 0.8:
            return r.choice(ODD_UTF8)
        if x < 0.9:
            return self.long_string()
        return "".join(chr(r.choice([r.randrange(0x20, 0x7f), r.randrange(0xa0, 0xd7ff),
                                     r.randrange(0xe000, 0x10ffff)])) for _ in range(r.randrange(1, 40)))

    def number(self):
        return Raw(self.r.choice(NUMBERS))

    def raw_oddity(self):
        """JSON text jsonb may or may not accept."""
        r = self.r
        return Raw(r.choice([
            '"\\u0000"', '"\\ud800"', '"\\udc00x"', '"\\ud83d\\ude00"', '"\\uFFFF"', '"a\\u0000b"',
            "1e131072", "-1e131072", "1e-16384", "0e99999", "-0.0e-0", '"\\/\\b\\f\\n\\r\\t"',
        ]))

    def deep(self):
        r = self.r
        n = r.choice([64, 500, 3000, 10000, 100000])
        if r.random() < 0.5:
            return Raw("[" * n + r.choice(["1", '"x"', "null", "{}"]) + "]" * n)
        return Raw('{"a":' * n + '"x"' + "}" * n)

    def huge_array(self):
        r = self.r
        n = r.choice([1000, 10000, 100000, 300000])
        elem = r.choice(["1", "null", '"x"', "{}", "[]", '"[Ticket #1]"', "true", '{"title":"t"}'])
        return Raw("[" + ",".join([elem] * n) + "]")

    def value(self, key=None, avoid=None):
        """Any JSON value, preferably not of kind `avoid`."""
        r = self.r
        for _ in range(5):
            k = r.choice(["null", "bool", "number", "number", "string", "string", "array",
                          "object", "raw"])
            if k != avoid:
                break
        if k == "null":
            return None
        if k == "bool":
            return r.random() < 0.5
        if k == "number":
            return self.number()
        if k == "string":
            return self.string(key)
        if k == "array":
            return r.choice([[], [None], [1], ["x"], [[]], [{}], [self.string(key), None, 1, True],
                             [None] * 50, [self.number() for _ in range(3)]])
        if k == "object":
            return r.choice([{}, {"": None}, {"x": 1}, {"title": self.string("title")},
                             {key or "k": self.value()}])
        return self.raw_oddity()


# ------------------------------------------------------------------ PNG logos

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)


PNG_SIG = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
DEPTHS = {0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def make_png(r, w=None, h=None, ct=None, bd=None, interlace=None, big=False):
    """A valid PNG of random shape and pixels (returns bytes)."""
    ct = r.choice(list(CHANNELS)) if ct is None else ct
    bd = r.choice(DEPTHS[ct]) if bd is None else bd
    interlace = r.choice([0, 1]) if interlace is None else interlace
    if w is None:
        w = r.choice([1, 2, 3, 7, 8, 9, 16, 33, 64]) if not big else r.choice([1, 4096, 2000])
    if h is None:
        h = r.choice([1, 2, 3, 7, 8, 9, 16, 33, 64]) if not big else r.choice([1, 4096, 2000])
    bits = CHANNELS[ct] * bd
    uniform = big or r.random() < 0.2

    def rows(pw, ph):
        line = (pw * bits + 7) // 8
        out = bytearray()
        for _ in range(ph):
            out.append(r.randrange(5) if not uniform else 0)
            out += bytes(line) if uniform else bytes(r.randrange(256) for _ in range(line))
        return out
    if interlace:
        raw = bytearray()
        for x0, y0, dx, dy in ADAM7:
            pw = (w - x0 + dx - 1) // dx if w > x0 else 0
            ph = (h - y0 + dy - 1) // dy if h > y0 else 0
            if pw and ph:
                raw += rows(pw, ph)
    else:
        raw = rows(w, h)
    chunks = [png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bd, ct, 0, 0, interlace))]
    if ct == 3:
        n = r.choice([1, 2, 16, 256, 1 << bd])
        chunks.append(png_chunk(b"PLTE", bytes(r.randrange(256) for _ in range(3 * n))))
        if r.random() < 0.5:
            chunks.append(png_chunk(b"tRNS", bytes(r.randrange(256) for _ in range(r.randrange(1, n + 1)))))
    elif ct in (0, 2) and r.random() < 0.4:
        chunks.append(png_chunk(b"tRNS", bytes(r.randrange(256) for _ in range(2 * CHANNELS[ct]))))
    if r.random() < 0.2:
        chunks.append(png_chunk(b"gAMA", struct.pack(">I", r.choice([0, 45455, 100000, 0xffffffff]))))
    data = zlib.compress(bytes(raw), 6)
    if r.random() < 0.3 and len(data) > 2:      # several IDAT chunks
        cut = r.randrange(1, len(data))
        chunks += [png_chunk(b"IDAT", data[:cut]), png_chunk(b"IDAT", data[cut:])]
    else:
        chunks.append(png_chunk(b"IDAT", data))
    chunks.append(png_chunk(b"IEND", b""))
    return PNG_SIG + b"".join(chunks)


def split_chunks(png):
    out, i = [], 8
    while i + 8 <= len(png):
        n = struct.unpack(">I", png[i:i + 4])[0]
        tag = png[i + 4:i + 8]
        data = png[i + 8:i + 8 + n]
        out.append([tag, data])
        i += 12 + n
    return out


def join_chunks(chunks):
    return PNG_SIG + b"".join(png_chunk(t, d) for t, d in chunks)


def mutate_png(r, png):
    """A damaged PNG: byte flips (with or without good CRCs), odd headers,
    short or long image data, missing or repeated chunks."""
    how = r.randrange(10)
    b = bytearray(png)
    if how == 0:                                      # raw byte flips
        for _ in range(r.randrange(1, 8)):
            i = r.randrange(len(b))
            b[i] ^= 1 << r.randrange(8)
        return bytes(b)
    if how == 1:                                      # truncated
        return bytes(b[:r.randrange(len(b))])
    chunks = split_chunks(png)
    if not chunks:
        return png
    if how == 2:                                      # flips inside chunks, CRCs fixed
        for _ in range(r.randrange(1, 6)):
            c = r.choice(chunks)
            if c[1]:
                d = bytearray(c[1])
                i = r.randrange(len(d))
                d[i] ^= 1 << r.randrange(8)
                c[1] = bytes(d)
        return join_chunks(chunks)
    ihdr = [c for c in chunks if c[0] == b"IHDR" and len(c[1]) == 13]
    if how == 3 and ihdr:                             # IHDR fields
        w, h, bd, ct, cm, fm, il = struct.unpack(">IIBBBBB", ihdr[0][1])
        f = r.randrange(7)
        if f == 0:
            w = r.choice([0, 1, 4096, 4097, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1])
        elif f == 1:
            h = r.choice([0, 1, 4096, 4097, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1])
        elif f == 2:
            bd = r.choice([0, 1, 2, 3, 4, 8, 16, 32, 255])
        elif f == 3:
            ct = r.choice([0, 1, 2, 3, 4, 5, 6, 7, 255])
        elif f == 4:
            il = r.choice([0, 1, 2, 255])
        elif f == 5:
            cm, fm = r.choice([(1, 0), (0, 1), (255, 255)])
        else:
            w, h = r.choice([(4096, 4096), (1, 4096), (4096, 1), (3000, 3000)])
        ihdr[0][1] = struct.pack(">IIBBBBB", w, h, bd, ct, cm, fm, il)
        return join_chunks(chunks)
    if how == 4:                                      # image data too short / too long / garbage
        idat = b"".join(d for t, d in chunks if t == b"IDAT")
        try:
            raw = zlib.decompress(idat)
        except zlib.error:
            raw = b""
        choice = r.randrange(4)
        if choice == 0:
            raw = raw[:r.randrange(len(raw) + 1)]
        elif choice == 1:
            raw = raw + bytes(r.randrange(256) for _ in range(r.randrange(1, 5000)))
        elif choice == 2:
            raw = bytes(r.choice([5, 6, 255, 0]) if i % 7 == 0 else r.randrange(256) for i in range(len(raw)))
        else:
            raw = b""
        rest = [c for c in chunks if c[0] != b"IDAT"]
        comp = zlib.compress(raw) if r.random() < 0.8 else bytes(r.randrange(256) for _ in range(64))
        return join_chunks(rest[:-1] + [[b"IDAT", comp]] + rest[-1:])
    if how == 5:                                      # a chunk removed
        del chunks[r.randrange(len(chunks))]
        return join_chunks(chunks)
    if how == 6:                                      # a chunk repeated
        c = r.choice(chunks)
        chunks.insert(r.randrange(len(chunks) + 1), list(c))
        return join_chunks(chunks)
    if how == 7:                                      # palette / transparency sizes
        plte = [b"PLTE", bytes(r.randrange(256) for _ in range(3 * r.choice([0, 1, 2, 257, 300])))]
        trns = [b"tRNS", bytes(r.randrange(256) for _ in range(r.choice([0, 1, 6, 257, 1000])))]
        extra = r.choice([[plte], [trns], [plte, trns], [trns, plte]])
        return join_chunks(chunks[:1] + extra + chunks[1:])
    if how == 8:                                      # an ancillary chunk, possibly huge or odd
        tag = r.choice([b"tEXt", b"zTXt", b"iCCP", b"sBIT", b"sPLT", b"hIST", b"bKGD", b"pHYs",
                        b"eXIf", b"acTL", b"xxXx", b"IDAT"])
        data = bytes(r.randrange(256) for _ in range(r.choice([0, 1, 13, 300, 70000])))
        chunks.insert(r.randrange(1, len(chunks) + 1), [tag, data])
        return join_chunks(chunks)
    return PNG_SIG[:r.randrange(9)] + bytes(r.randrange(256) for _ in range(r.randrange(100)))


def logo_string(r, gen):
    """msp.logo_png: a valid, damaged or odd base64 PNG."""
    x = r.random()
    png = make_png(r, big=r.random() < 0.03)
    if x < 0.55:
        png = mutate_png(r, png)
        if r.random() < 0.3:
            png = mutate_png(r, png)
    s = base64.b64encode(png).decode()
    y = r.random()
    if y < 0.1:
        s = "data:image/png;base64," + s
    elif y < 0.2:
        s = "\n".join(s[i:i + 76] for i in range(0, len(s), 76))
    elif y < 0.27:
        s = s.rstrip("=")
    elif y < 0.34:
        i = r.randrange(len(s) + 1)
        s = s[:i] + r.choice(["!", "*", "é", "=", "==", " ", "\t", "-", "_", "\u00ff"]) + s[i:]
    elif y < 0.38:
        s = r.choice(["", "data:", "data:image/png;base64,", "====", "AAAA", "iVBORw0KGgo=",
                      base64.b64encode(b"GIF89a" + bytes(50)).decode(),
                      base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(50)).decode(), gen.string()])
    elif y < 0.4:
        s = "A" * r.choice([1, 2, 3, 5, 1000001, 1500000])
    return s


# ---------------------------------------------------------- JSON mutations

class Mutator:
    def __init__(self, rng):
        self.r = rng
        self.g = Gen(rng)

    def mutate(self, doc, donors=(), logo=False):
        """1 to 6 mutations of a copy of doc.  Half of the time they are
        gentle: types are kept (and numbers stay plausible), so the input
        passes validation and reaches what comes after it."""
        doc = copy.deepcopy(doc)
        gentle = self.r.random() < 0.5
        for _ in range(self.r.choice([1, 1, 1, 2, 2, 3, 4, 6])):
            doc = self.gentle(doc, donors) if gentle else self.once(doc, donors)
        if logo and isinstance(doc, dict):
            msp = doc.get("msp")
            if not isinstance(msp, dict):
                msp = doc["msp"] = {}
            msp["logo_png"] = logo_string(self.r, self.g)
        return doc

    def once(self, doc, donors):
        r, g = self.r, self.g
        nodes = nodes_of(doc)
        by_kind = {}
        for n in nodes:
            by_kind.setdefault(kind_of(n[2]), []).append(n)
        weights = {"array": 4, "object": 2, "string": 3, "number": 2, "bool": 0.5, "null": 1, "raw": 0.2}
        kinds = list(by_kind)
        kind = r.choices(kinds, [weights[k] for k in kinds])[0]
        parent, key, v = r.choice(by_kind[kind])
        keyname = key if isinstance(key, str) else None
        if isinstance(parent, list) and isinstance(key, int):
            keyname = None
        x = r.random()
        if x < 0.12:
            new = self.generic(v, key, doc, donors)
        elif kind == "array":
            new = self.array(v, doc)
        elif kind == "object":
            new = self.object(v)
        elif kind == "string":
            new = self.string(v, keyname)
        elif kind == "number":
            new = r.choice([g.number(), g.number(), str(v), [v], -v if isinstance(v, (int, float)) else v])
        else:
            new = g.value(keyname, avoid=kind)
        if new is DELETE:
            if parent is None:
                return None
            del parent[key]
            return doc
        if parent is None:
            return new
        parent[key] = new
        return doc

    def gentle(self, doc, donors):
        r, g = self.r, self.g
        nodes = nodes_of(doc)[1:]
        if not nodes:
            return doc
        parent, key, v = r.choice(nodes)
        keyname = key if isinstance(key, str) else None
        kind = kind_of(v)
        if kind == "string":
            new = self.string(v, keyname) if r.random() < 0.8 else g.string(keyname)
            if not isinstance(new, str):
                new = g.string(keyname)
        elif kind == "number":
            new = Raw(r.choice(PLAUSIBLE))
        elif kind == "array":
            a = list(v)
            x = r.randrange(6)
            if x == 0:
                a.insert(r.randrange(len(a) + 1), None)
            elif x == 1 and a:
                size = len(dumps(a))
                a = a * min(r.choice([2, 10, 100, 1000]), max(1, 600_000 // max(size, 1)))
            elif x == 2 and a:
                a = a[:r.randrange(len(a))]
            elif x == 3 and a:
                a.append(copy.deepcopy(r.choice(a)))
            elif x == 4 and (not a or all(isinstance(e, str) for e in a)):
                for _ in range(r.randrange(1, 5)):
                    a.insert(r.randrange(len(a) + 1), g.string())
            else:
                r.shuffle(a)
            new = a
        elif kind == "object":
            new = {}
            for k, e in v.items():          # some keys dropped, some null
                y = r.random()
                if y >= 0.15:
                    new[k] = None if y < 0.3 else e
        else:
            new = v
        if donors and (kind == "null" or r.random() < 0.15):
            # what the same key holds in another valid document (the scores
            # of another client, a risk list of another quarter ...)
            same = [n[2] for n in nodes_of(r.choice(donors), 5000)
                    if n[1] == key and n[2] is not None and n[2] is not v]
            if same:
                new = copy.deepcopy(r.choice(same))
        parent[key] = new
        return doc

    def generic(self, v, key, doc, donors):
        r, g = self.r, self.g
        x = r.randrange(9)
        if x == 0:
            return DELETE
        if x == 1:
            return None
        if x == 2:
            return g.value(key if isinstance(key, str) else None, avoid=kind_of(v))
        if x == 3:
            return [v] if r.random() < 0.5 else {"x": v, str(key): v}
        if x == 4:
            return g.deep()
        if x == 5:
            return g.huge_array()
        if x == 6:
            return g.long_string()
        # a subtree from this document or another valid one, in the wrong place
        src = doc if not donors or r.random() < 0.5 else r.choice(donors)
        return copy.deepcopy(r.choice(nodes_of(src, 3000))[2])

    def array(self, a, doc):
        r, g = self.r, self.g
        a = list(a)
        x = r.randrange(9)
        if x == 0:                       # elements of other types (numbers, objects, nulls ...)
            for _ in range(r.randrange(1, 4)):
                a.insert(r.randrange(len(a) + 1), g.value(avoid="string"))
        elif x == 1 and a:               # existing elements turned into non-strings
            for i in r.sample(range(len(a)), r.randrange(1, len(a) + 1)):
                a[i] = g.value(avoid=kind_of(a[i]))
        elif x == 2:                     # null elements
            for _ in range(r.randrange(1, 6)):
                a.insert(r.randrange(len(a) + 1), None)
        elif x == 3 and a:               # many copies (kept well under the size limit)
            size = len(dumps(a))
            k = min(r.choice([2, 10, 100, 1000, 5000]), max(1, 1_000_000 // max(size, 1)))
            a = a * k
        elif x == 4:
            a = []
        elif x == 5 and a:
            r.shuffle(a)
            a = a[:r.randrange(len(a) + 1)]
        elif x == 6:                     # strings of every sort
            for _ in range(r.randrange(1, 5)):
                a.insert(r.randrange(len(a) + 1), g.string())
        elif x == 7:
            a.append(copy.deepcopy(r.choice(nodes_of(doc, 3000))[2]))
        else:
            return g.huge_array()
        return a

    def object(self, o):
        r, g = self.r, self.g
        o = dict(o)
        keys = list(o)
        x = r.randrange(7)
        if x == 0 and keys:
            for k in r.sample(keys, r.randrange(1, len(keys) + 1)):
                del o[k]
        elif x == 1:
            o[r.choice(["x", "risk", "", " ", "Title", "titles", "évidence", "k" * 300])] = g.value()
        elif x == 2 and keys:            # every value of one other type
            t = g.value()
            for k in keys:
                o[k] = copy.deepcopy(t)
        elif x == 3:
            for i in range(r.choice([100, 2000])):
                o["k%d" % i] = i
        elif x == 4 and keys:            # a key renamed
            k = r.choice(keys)
            o[k + r.choice(["s", "_", " ", "X"])] = o.pop(k)
        elif x == 5 and keys:
            for k in keys:
                if r.random() < 0.3:
                    o[k] = None
        else:
            return r.choice([[], "", 0, None, [o]])
        return o

    def string(self, s, key):
        r, g = self.r, self.g
        x = r.randrange(8)
        if x <= 2:
            return g.string(key)
        if x == 3:
            i = r.randrange(len(s) + 1)
            return s[:i] + r.choice(ODD_UTF8 + SPECIAL) + s[i:]
        if x == 4:
            return rep(s, len(s) * r.choice([2, 50, 1000]) if len(s) < 300 else min(len(s) * 2, 300000))
        if x == 5:
            return s[:r.randrange(len(s) + 1)]
        if x == 6:
            return r.choice([Raw(s) if s.strip().lstrip("-").replace(".", "", 1).isdigit() else g.number(),
                             [s], {"value": s}, True])
        return g.raw_oddity()


DELETE = object()


# ------------------------------------------------------------ SQL literals

def lit(s):
    return "'" + s.replace("'", "''") + "'"


class Args:
    """SQL expressions for arguments, by type and by the parameter's name."""

    def __init__(self, rng, corpus, env):
        self.r = rng
        self.corpus = corpus
        self.env = env
        self.mut = Mutator(rng)
        self.g = self.mut.g

    role = None

    def arg(self, fname, aname, atype, plain):
        r = self.r
        if r.random() < 0.04 and not plain:
            return "NULL::" + atype
        if r.random() < 0.02 and not plain:           # a value of the wrong type
            return lit(r.choice(["abc", "", "1.5", "-", "2026-13-45", "{}", "[1]", "1e400",
                                 "9" * 30])) + "::" + atype
        f = getattr(self, "t_" + atype.replace(" ", "_").replace("[]", "_array"), None)
        return f(fname, aname or "", plain) if f else self.t_other(atype, plain)

    def ids(self, name):
        """Ids the current role can see, mostly; sometimes any."""
        e = self.env
        kind = "qbr_ids" if "qbr" in name else "client_ids"
        seen = e["visible"].get(self.role, {}).get(kind)
        return seen if seen and self.r.random() < 0.75 else e[kind]

    def t_integer(self, fname, aname, plain):
        r = self.r
        good = self.ids(aname) if ("client" in aname or "qbr" in aname or "id" == aname) else [0, 1, 7, 14, 30]
        if plain or r.random() < 0.6:
            return str(r.choice(good))
        return "(" + r.choice(["0", "-1", "1", "2147483647", "-2147483648", "99999", "-2147483647",
                               str(r.randrange(-1000, 1000))]) + ")"

    t_bigint = t_integer

    def t_date(self, fname, aname, plain):
        r = self.r
        if plain or r.random() < 0.5:
            return lit(r.choice(["2026-01-15", "2025-12-31", "2026-03-31", "2024-02-29"])) + "::date"
        return r.choice(["current_date", "'infinity'::date", "'-infinity'::date", "'4713-11-24 BC'::date",
                         "'4714-11-24 BC'::date", "'5874897-12-31'::date", "'0001-01-01'::date",
                         "'294276-12-31'::date", "'1900-02-28'::date", "'2000-02-29'::date",
                         "'9999-12-31'::date", "'1970-01-01'::date", "(current_date + 36500)"])

    def t_text(self, fname, aname, plain):
        r = self.r
        e = self.env
        if "segment" in aname:
            good = ["A", "B", "C", "D"]
        elif "level" in aname:
            good = ["low", "medium", "high"]
        elif "key" in aname:
            good = e["setting_keys"]
        elif "status" in aname:
            good = ["approved", "rejected"]
        else:
            good = ["reviewed", "Looks good.", "x"]
        if plain or r.random() < 0.4:
            return lit(r.choice(good))
        return lit(self.g.string(aname)[:200000])

    def t_uuid(self, fname, aname, plain):
        r = self.r
        if (plain or r.random() < 0.6) and self.env["job_ids"]:
            return lit(r.choice(self.env["job_ids"])) + "::uuid"
        return lit(r.choice(["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
                             "%032x" % r.getrandbits(128)])) + "::uuid"

    def t_boolean(self, fname, aname, plain):
        return self.r.choice(["true", "false"])

    def t_jsonb(self, fname, aname, plain):
        r = self.r
        feeds = JSON_FEEDS.get((fname, aname)) or JSON_FEEDS.get(fname) or list(self.corpus)
        pool = []
        for src in feeds:
            pool += self.corpus.get(src, [])
        if not pool or r.random() < 0.1:
            pool = [d for docs in self.corpus.values() for d in docs]
        if not pool:
            pool = [{}]
        doc = r.choice(pool)
        if not plain:
            everything = [d for docs in self.corpus.values() for d in docs]
            donors = [r.choice(pool), r.choice(pool), r.choice(everything)]
            logo = fname == "qbr_render_doc" and r.random() < 0.3
            for _ in range(6):
                new = self.mut.mutate(doc, donors, logo)
                try:
                    text = dumps(new)
                except RecursionError:
                    continue
                if len(text.encode()) < MAX_INPUT - 1000:
                    return lit(text) + "::jsonb"
        return lit(dumps(doc)) + "::jsonb"

    def t_other(self, atype, plain):
        r = self.r
        return r.choice(["NULL", lit(r.choice(["0", "1", "-1", "", "x", "{}", "1 day"]))]) + "::" + atype


# Which valid documents feed which jsonb parameter (function, or (function,
# parameter)); the corpus is keyed by the function that produced the value.
# A jsonb parameter not listed here gets every corpus.
JSON_FEEDS = {
    "narrative_offline": ["narrative_input"],
    "validate_citations": ["narrative_offline", "narrative_for_document"],
    "qbr_render_doc": ["qbr_document", "example"],
    "narrative_for_document": ["narrative_offline"],
    "json_texts": ["narrative_offline", "narrative_for_document"],
    "qbr_document": ["narrative_offline", "narrative_for_document"],
    "qbr_render": ["narrative_offline", "narrative_for_document"],
    "qbr_generate": ["options"],
}


# ------------------------------------------------------------- the harness

class Crash(Exception):
    pass


def connect(user=None):
    kw = {"dbname": DB, "application_name": "etop_sql_fuzz"}
    if user:
        kw["user"] = user
        if PASSWORD:
            kw["password"] = PASSWORD
    c = psycopg2.connect(**kw)
    c.autocommit = True
    return c


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def print_statement(sql):
    """The exact statement; a long one (mutated inputs are repetitive) as
    zlib-compressed base64 with the command that turns it back into SQL."""
    b = sql.encode()
    if len(b) <= 20000:
        log("  last statement (%d bytes):" % len(b))
        print(sql + ";", flush=True)
        return
    z = base64.b64encode(zlib.compress(b, 9)).decode()
    log("  last statement (%d bytes; %d as compressed base64 between the BEGIN and END lines):"
        % (len(b), len(z)))
    log("  decode: sed -n '/^BEGIN SQL/,/^END SQL/p' LOG | sed '1d;$d' | base64 -d | "
        "python3 -c 'import sys,zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))'")
    print("BEGIN SQL", flush=True)
    for i in range(0, len(z), 76):
        print(z[i:i + 76])
    print("END SQL", flush=True)


def server_log_path(admin):
    p = os.environ.get("SQL_FUZZ_SERVER_LOG")
    if p:
        return p
    try:
        datadir = one(admin, "SELECT current_setting('data_directory')")
        cur = one(admin, "SELECT pg_current_logfile()")
        cluster = one(admin, "SELECT current_setting('cluster_name')")
        major = one(admin, "SELECT current_setting('server_version_num')")[:2]
    except psycopg2.Error:
        return None
    cands = []
    if cur:
        cands.append(cur if cur.startswith("/") else os.path.join(datadir, cur))
    if cluster and "/" in cluster:
        cands.append("/var/log/postgresql/postgresql-%s-%s.log" % (major, cluster.split("/", 1)[1]))
    cands.append(os.path.join(datadir, "server.log"))
    for c in cands:
        if os.access(c, os.R_OK):
            return c
    return None


class Fuzz:
    def __init__(self):
        self.rng = random.Random(SEED)
        self.stats = {}          # function signature -> [calls, errors, timeouts, seconds in the server]
        self.messages = {}       # function signature -> {first words of an error: n}
        self.gen_seconds = 0.0
        self.harness_errors = 0
        self.states = {}         # function signature -> {sqlstate: n}
        self.calls = self.errors = 0
        self.crashes = []        # (signature, role, statement file, what)
        self.timeouts = []
        self.internal = []
        self.batch_no = 0
        self.corpus = {}
        self.admin = connect()
        self.witness = connect()
        self.log_path = server_log_path(self.admin)
        self.log_pos = os.path.getsize(self.log_path) if self.log_path else 0
        self.baseline()

    # ---- crash detection
    def baseline(self):
        self.start_time, self.stats_reset, self.xact_commit = self.server_marks(self.witness)

    @staticmethod
    def server_marks(conn):
        with conn.cursor() as cur:
            cur.execute("SELECT pg_postmaster_start_time(), (SELECT stats_reset FROM pg_stat_bgwriter), "
                        "(SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())")
            return cur.fetchone()

    def check(self, where):
        """Problems after a batch (empty when all is well)."""
        problems = []
        try:
            if one(self.witness, "SELECT 1") != 1:
                problems.append("witness: SELECT 1 did not return 1")
            marks = self.server_marks(self.witness)
            if marks[0] != self.start_time:
                problems.append("pg_postmaster_start_time() changed: %s -> %s" % (self.start_time, marks[0]))
            if marks[1] != self.stats_reset:
                problems.append("statistics were reset (crash recovery): %s -> %s" % (self.stats_reset, marks[1]))
            if marks[2] is not None and self.xact_commit is not None and marks[2] < self.xact_commit:
                problems.append("pg_stat_database.xact_commit went back: %s -> %s" % (self.xact_commit, marks[2]))
            self.xact_commit = marks[2]
        except psycopg2.Error as e:
            problems.append("witness session died: %s" % one_line(e))
        for role, s in self.sessions.items():
            try:
                pid = one(s["conn"], "SELECT pg_backend_pid()")
                if pid != s["pid"]:
                    problems.append("backend PID of %s changed: %s -> %s" % (role, s["pid"], pid))
            except psycopg2.Error as e:
                problems.append("fuzzing session of %s died: %s" % (role, one_line(e)))
        problems += self.log_crashes()
        return problems

    def log_crashes(self):
        if not self.log_path:
            return []
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_pos)
                text = f.read().decode("utf-8", "replace")
                self.log_pos = f.tell()
        except OSError:
            return []
        bad = [line for line in text.splitlines()
               if "terminated by signal" in line or "terminating any other active server processes" in line
               or ("process" in line and "exited with exit code" in line and "exit code 1)" not in line
                   and "exit code 0)" not in line)
               or "PANIC:" in line]
        out = []
        for line in bad:
            for role, sess in self.sessions.items():
                if "(PID %d)" % sess["pid"] in line:
                    line += "  <- the fuzzing session of " + role
            out.append("server log: " + line)
        return out

    # ---- sessions
    def open_sessions(self):
        self.sessions = {}
        for role in ROLES:
            conn = connect(role)
            with conn.cursor() as cur:
                cur.execute("SET statement_timeout = %d" % CALL_TIMEOUT_MS)
                cur.execute("SET lock_timeout = 2000")
            self.sessions[role] = {"conn": conn, "pid": one(conn, "SELECT pg_backend_pid()"),
                                   "timeout": CALL_TIMEOUT_MS}

    def discover(self):
        self.targets = {}
        for role in ROLES:
            with self.admin.cursor() as cur:
                cur.execute("""
                    SELECT p.oid::regprocedure::text, p.pronamespace::regnamespace::text, p.proname, p.proretset, l.lanname, p.pronargs,
                           p.pronargdefaults, p.proargnames, p.proargmodes::text[],
                           array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i)
                                  ORDER BY i)
                      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                     WHERE p.pronamespace IN ('etop'::regnamespace, 'etop_internal'::regnamespace) AND p.prokind = 'f'
                       AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
                       AND has_function_privilege(%s, p.oid, 'EXECUTE')
                     ORDER BY 1""", (role,))
                for sig, schema, name, retset, lang, nargs, ndef, names, modes, types in cur.fetchall():
                    if ONLY and not re.search(ONLY, sig):
                        continue
                    if modes:
                        names = [n for n, m in zip(names, modes) if m in ("i", "b", "v")]
                    names = list(names or []) + [""] * nargs
                    t = self.targets.setdefault(sig, {
                        "sig": sig, "schema": schema, "name": name, "retset": retset, "lang": lang, "ndef": ndef,
                        "args": list(zip(names[:nargs], types)), "roles": []})
                    t["roles"].append(role)
        for sig in self.targets:
            self.stats[sig] = [0, 0, 0, 0.0]
            self.messages[sig] = {}
            self.states[sig] = {}

    def seed_corpus(self):
        """Valid values, made by the extension as superuser."""
        env = {}
        with self.admin.cursor() as cur:
            cur.execute("SELECT id FROM etop.clients ORDER BY id")
            env["client_ids"] = [r[0] for r in cur.fetchall()] or [1]
            cur.execute("SELECT id FROM etop.qbrs ORDER BY id")
            env["qbr_ids"] = [r[0] for r in cur.fetchall()] or [1]
            cur.execute("SELECT id::text FROM etop.qbr_jobs")
            env["job_ids"] = [r[0] for r in cur.fetchall()]
            cur.execute("SELECT key FROM etop.setting_defaults()")
            env["setting_keys"] = [r[0] for r in cur.fetchall()]
            for c in env["client_ids"]:
                for d in ("2026-01-15", "2025-09-30"):
                    cur.execute("SELECT etop.narrative_input(%s, %s)", (c, d))
                    ni = cur.fetchone()[0]
                    cur.execute("SELECT etop.narrative_offline(%s::jsonb)", (json.dumps(ni),))
                    no = cur.fetchone()[0]
                    cur.execute("SELECT etop.qbr_document(%s, %s::jsonb, %s)", (c, json.dumps(no), d))
                    doc = cur.fetchone()[0]
                    cur.execute("SELECT etop.etop_scores(%s, %s)", (c, d))
                    sc = cur.fetchone()[0]
                    for k, v in (("narrative_input", ni), ("narrative_offline", no), ("qbr_document", doc),
                                 ("etop_scores", sc)):
                        self.corpus.setdefault(k, []).append(v)
        try:
            with open(os.path.join(DATA, "qbr_example.json"), encoding="utf-8") as f:
                ex = json.load(f)
            self.corpus["example"] = [ex]
            for _ in range(3):     # the example with a valid logo of each kind
                d = copy.deepcopy(ex)
                d.setdefault("msp", {})["logo_png"] = base64.b64encode(make_png(self.rng)).decode()
                self.corpus["example"].append(d)
        except (OSError, ValueError):
            pass
        self.corpus["options"] = [{}, {"as_of": "2026-01-15"}, {"provider": "offline"},
                                  {"as_of": "2026-01-15", "provider": "offline"}]
        env["visible"] = {}
        for role, sess in self.sessions.items():
            with sess["conn"].cursor() as cur:
                cur.execute("SELECT array(SELECT id FROM etop.clients ORDER BY id), "
                            "array(SELECT id FROM etop.qbrs ORDER BY id)")
                c, q = cur.fetchone()
                env["visible"][role] = {"client_ids": c, "qbr_ids": q}
        self.env = env
        self.args = Args(self.rng, self.corpus, env)

    # ---- calls
    def statement(self, t, role, plain):
        r = self.rng
        n = len(t["args"])
        if not plain and t["ndef"] and r.random() < 0.3:
            n -= r.randrange(t["ndef"] + 1)
        self.args.role = role
        args = [self.args.arg(t["name"], a, ty, plain) for a, ty in t["args"][:n]]
        call = "%s.%s(%s)" % (t["schema"], t["name"], ", ".join(args))
        return ("SELECT * FROM " if t["retset"] else "SELECT ") + call

    def call(self, t, role, sql, batch_file):
        s = self.sessions[role]
        left_ms = int((DEADLINE - time.monotonic()) * 1000) + 1000
        want = max(500, min(CALL_TIMEOUT_MS, left_ms))
        batch_file.write("-- [%d] as %s: %s\n%s;\n" % (self.calls + 1, role, t["sig"], sql))
        batch_file.flush()
        st = self.stats[t["sig"]]
        st[0] += 1
        self.calls += 1
        conn = s["conn"]
        t0 = time.monotonic()
        try:
            with conn.cursor() as cur:
                if want != s["timeout"]:
                    cur.execute("SET statement_timeout = %d" % want)
                    s["timeout"] = want
                cur.execute(sql)
                try:
                    rows = cur.fetchall() if cur.description else []
                except (ValueError, RecursionError, OverflowError):
                    rows = []       # a result Python cannot represent: fine
            self.learn(t, rows)
            self.states[t["sig"]]["ok"] = self.states[t["sig"]].get("ok", 0) + 1
        except psycopg2.Error as e:
            code = e.pgcode
            if code is None or code in CRASH_STATES or conn.closed:
                raise Crash("%s (SQLSTATE %s, connection %s)" % (one_line(e), code,
                                                                   "closed" if conn.closed else "open"))
            st[1] += 1
            self.errors += 1
            self.states[t["sig"]][code] = self.states[t["sig"]].get(code, 0) + 1
            m = code + " " + str(e).strip().split("\n")[0][:90]
            self.messages[t["sig"]][m] = self.messages[t["sig"]].get(m, 0) + 1
            if code == "57014":
                st[2] += 1
                self.timeouts.append((t["sig"], role, sql, str(e).strip()))
            elif code.startswith("XX") or code.startswith("58"):
                self.internal.append((t["sig"], role, sql, code, str(e).strip()))
        finally:
            st[3] += time.monotonic() - t0

    def learn(self, t, rows):
        """Keep valid jsonb outputs (and ids) as seeds for later calls."""
        if not rows:
            return
        v = rows[0][0]
        if t["name"] == "qbr_generate" and isinstance(v, dict) and v.get("job_id"):
            self.env["job_ids"].append(v["job_id"])
        if isinstance(v, (dict, list)):
            pool = self.corpus.setdefault(t["name"], [])
            if len(pool) < 40:
                try:
                    if len(dumps(v)) < 300000:
                        pool.append(v)
                except (TypeError, RecursionError):
                    pass

    def save(self, kind, n, role, sql, what):
        path = os.path.join(OUT, "%s-%d.sql" % (kind, n))
        with open(path, "w", encoding="utf-8") as f:
            f.write("-- etop sql_fuzz %s (seed %d): %s\n" % (kind, SEED, what.replace("\n", " ")))
            f.write("-- replay: psql -X -U %s -d <database with etop and demo_seed(5, 1, '2026-01-15')> -f %s\n"
                    % (role, path))
            f.write("SET statement_timeout = %d;\n%s;\n" % (CALL_TIMEOUT_MS, sql))
        return path

    def report_crash(self, t, role, sql, what, batch_path):
        n = len(self.crashes) + 1
        path = self.save("crash", n, role, sql, what)
        self.crashes.append((t["sig"] if t else "?", role, path, what))
        kept = os.path.join(OUT, "crash-%d-batch.sql" % n)
        try:
            with open(batch_path, "rb") as src, open(kept, "wb") as dst:
                dst.write(src.read())
        except OSError:
            kept = batch_path
        log("CRASH #%d: %s" % (n, what))
        log("  last call: %s, as role %s, batch %d" % (t["sig"] if t else "?", role, self.batch_no))
        log("  statements of this batch, in order: %s" % kept)
        log("  reproducer: %s" % path)
        print_statement(sql)

    def recover(self):
        """After a crash: wait for the server, reconnect everything."""
        for _ in range(120):
            try:
                self.witness = connect()
                self.admin = connect()
                self.open_sessions()
                self.baseline()
                return True
            except psycopg2.Error:
                time.sleep(0.5)
        return False

    def pick(self):
        """A function for the next call, weighted: C functions and functions
        with a jsonb parameter get more calls."""
        r = self.rng
        sigs = list(self.targets)
        w = []
        for s in sigs:
            t = self.targets[s]
            x = 1.0
            if any(ty == "jsonb" for _, ty in t["args"]):
                x += 3
            if t["lang"] == "c":
                x *= 2
            w.append(x)
        return r.choices(sigs, w)[0]

    def run(self):
        self.open_sessions()
        self.discover()
        self.seed_corpus()
        log("seed %d (SQL_FUZZ_SEED=%d replays this run), %.0f s, statement_timeout %d ms, log: %s"
            % (SEED, SEED, FUZZ_SECONDS, CALL_TIMEOUT_MS, self.log_path or "(not readable)"))
        log("%d functions callable by %s:" % (len(self.targets), " or ".join(ROLES)))
        for s, t in self.targets.items():
            log("  %-62s %s" % (s, ", ".join(t["roles"])))
        log("statements of the current batch: %s/batch.sql" % OUT)
        # every function with plain arguments, as every role that may call it
        round_robin = [(s, role, True) for s, t in self.targets.items() for role in t["roles"]]
        batch_path = os.path.join(OUT, "batch.sql")
        while time.monotonic() < DEADLINE:
            self.batch_no += 1
            t = role = sql = None
            with open(batch_path, "w", encoding="utf-8") as bf:
                bf.write("-- etop sql_fuzz seed %d, batch %d\n" % (SEED, self.batch_no))
                try:
                    for _ in range(BATCH):
                        if time.monotonic() >= DEADLINE:
                            break
                        if round_robin:
                            sig, role, plain = round_robin.pop(0)
                        else:
                            sig, plain = self.pick(), False
                            role = self.rng.choice(self.targets[sig]["roles"])
                        t = self.targets[sig]
                        g0 = time.monotonic()
                        try:
                            sql = self.statement(t, role, plain)
                        except Exception:       # a bug of this script: shown, not fatal
                            self.harness_errors += 1
                            if self.harness_errors <= 3:
                                log("harness error (a bug in sql_fuzz.py, not in etop):\n"
                                    + traceback.format_exc())
                            continue
                        finally:
                            self.gen_seconds += time.monotonic() - g0
                        if time.monotonic() >= DEADLINE:
                            break
                        self.call(t, role, sql, bf)
                    problems = self.check("after batch %d" % self.batch_no)
                    if problems:
                        raise Crash("; ".join(problems))
                except Crash as c:
                    bf.flush()
                    what = str(c)
                    time.sleep(0.5)
                    extra = [p for p in self.check("after crash") if p not in what]
                    if extra:
                        what += "; " + "; ".join(extra)
                    self.report_crash(t, role, sql or "", what, batch_path)
                    if not CONTINUE or not self.recover():
                        break
        never = self.summary()
        return 1 if self.crashes or never else 0

    def summary(self):
        took = time.monotonic() - T_START
        log("calls per function (calls / errors / timeouts / seconds in the server; results by SQLSTATE):")
        for s in self.targets:
            c, e, to, secs = self.stats[s]
            st = ", ".join("%s %d" % kv for kv in sorted(self.states[s].items(), key=lambda kv: -kv[1])[:6])
            log("  %-56s %5d / %5d / %d / %5.1f   %s" % (s, c, e, to, secs, st))
            if VERBOSE:
                for m, n in sorted(self.messages[s].items(), key=lambda kv: -kv[1])[:8]:
                    log("        %5d  %s" % (n, m))
        never = [s for s in self.targets if self.stats[s][0] == 0]
        if never:
            log("NOT CALLED (time ran out first): " + ", ".join(never))
        for i, (sig, role, sql, msg) in enumerate(self.timeouts, 1):
            path = self.save("timeout", i, role, sql, msg)
            log("SUSPICIOUS timeout #%d in %s as %s (%s): %s" % (i, sig, role, path, clip(sql, 300)))
        for i, (sig, role, sql, code, msg) in enumerate(self.internal, 1):
            path = self.save("internal", i, role, sql, msg)
            log("SUSPICIOUS internal error #%d %s in %s as %s: %s (%s)" % (i, code, sig, role,
                                                                          clip(msg, 200), path))
        for i, (sig, role, path, what) in enumerate(self.crashes, 1):
            log("crash #%d in %s as %s: %s (%s)" % (i, sig, role, clip(what, 300), path))
        log("seed %d, %d batches, %.1f s fuzzing (%.1f s of it making inputs)"
            % (SEED, self.batch_no, took, self.gen_seconds))
        if self.harness_errors:
            log("%d inputs could not be made (harness errors, see above)" % self.harness_errors)
        if never:
            log("FAIL: %d functions were never called" % len(never))
        print("sql_fuzz: %d calls, %d errors, %d timeouts, %d crashes (seed %d, %.0f s)" % (
            self.calls, self.errors, len(self.timeouts), len(self.crashes), SEED, took + SETUP_SECONDS),
            flush=True)
        return never


if __name__ == "__main__":
    sys.exit(Fuzz().run())
