#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_render (tests/fuzz/corpus/fuzz_render/).

fuzz_render.c decodes its input into a QbrDocument field by field
(render_input()); the encoder below writes documents in that same order, so
the seeds start the fuzzer from realistic reviews (the unit test's sample,
an empty one, a huge one, one with every number out of range, logos) rather
than from noise.  Keep the two in step when the document changes.
Deterministic.

    python3 tests/fuzz/gen_render_seeds.py [OUTDIR]
"""
import os
import struct
import sys

# indexes into awkward[] of fuzz_render.c
AWK = {"Müller & Söhne GmbH": 0, "Q4 2025": 1, "2025-12-31": 2, "2025-01": 3, "2025-13": 4,
       "[Ticket #4411]": 6, "high": 11, "medium": 12, "low": 13, "critical": 14, "5": 16,
       "open": 18, "mitigated": 19, "USD": 20, "eur": 21, "CHF": 22, "€14,000–€18,000": 25,
       "Ελλάδα Привет": 26, "日本語のテキスト": 27, "emoji": 30, "bad utf-8": 32,
       "tab and newline": 37, "parens": 38, "W": 41}


class Doc:
    def __init__(self):
        self.b = bytearray()

    def u8(self, v):
        self.b.append(v & 0xFF)

    def text(self, s):
        """None, an awkward[] entry (by key), bytes/str up to 255, or ("repeat", chunk, n)"""
        if s is None:
            self.u8(0)
        elif isinstance(s, tuple):
            _, chunk, reps = s
            chunk = chunk.encode() if isinstance(chunk, str) else chunk
            assert 1 <= len(chunk) <= 32 and 1 <= reps <= 1 + 255 * 32
            self.u8(7)
            self.u8(len(chunk) - 1)
            self.u8((reps - 1) // 32)
            self.b += chunk
        elif s == "":
            self.u8(1)
        elif isinstance(s, str) and s in AWK:
            self.u8(2)
            self.u8(AWK[s])
        else:
            raw = s.encode() if isinstance(s, str) else s
            assert len(raw) <= 255
            self.u8(4)
            self.u8(len(raw))
            self.b += raw

    def texts(self, items):
        self.u8(len(items))
        for t in items:
            self.text(t)

    def score(self, v):
        """None: absent; 0..100 with one decimal; or ("any", float)"""
        if v is None:
            self.u8(0)
        elif isinstance(v, tuple):
            self.u8(3)
            self.u8(200)
            self.b += struct.pack("<d", v[1])
        else:
            self.u8(1)
            self.u8(int(v))
            self.u8(int(round((v - int(v)) * 10)))

    def count(self, v):
        if v == -1:
            self.u8(0)
        elif 0 <= v < 65536:
            self.u8(1)
            self.b += struct.pack("<H", v)
        elif 0 <= v <= 10 ** 15:
            self.u8(2)
            self.b += struct.pack("<Q", v)
        else:
            self.u8(3)
            self.u8(200)
            self.b += struct.pack("<q", v)


def document(draft=False, a4=False, compressed=False, cancel=None, bad_font=False,
             logo=0, logo_bytes=b"", accent=(0x1F, 0x4E, 0x79), client="Müller & Söhne GmbH",
             segment="A", industry="Manufacturing", period="Q4 2025", as_of="2025-12-31",
             msp="Bright IT Services", summary=None, trends=None, currency="eur",
             scores=((None, None),) * 3, recs=(), points=(), risks=(), wins=(), months=(),
             service=(-1, -1, -1, -1, -1), areas=((None, None, ()),) * 3, devices=(),
             budgets=(None, None, None), roadmap=((), (), ()), actions=()):
    d = Doc()
    flags = ((1 if draft else 0) | (2 if a4 else 0) | (4 if compressed else 0)
             | (8 if cancel is not None else 0) | (0x70 if bad_font else 0) | ((logo & 1) << 7))
    d.u8(flags)
    d.u8(cancel or 0)
    d.u8(logo >> 1)
    if logo == 3:
        d.b += struct.pack("<H", len(logo_bytes)) + logo_bytes
    for c in accent:
        d.u8(c)
    for t in (client, segment, industry, period, as_of, msp, summary, trends, currency):
        d.text(t)
    for value, movement in scores:
        d.score(value)
        d.text(movement)
    d.u8(len(recs))
    for title, desc, prio, effort, cost, evidence in recs:
        for t in (title, desc, prio, effort, cost):
            d.text(t)
        d.texts(evidence)
    d.texts(points)
    d.u8(len(risks))
    for r in risks:
        for t in r:
            d.text(t)
    d.texts(wins)
    d.u8(len(months))
    for month, n in months:
        d.text(month)
        d.count(n)
    for n in service:
        d.count(n)
    for value, summary_text, citations in areas:
        d.score(value)
        d.text(summary_text)
        d.texts(citations)
    d.u8(len(devices))
    for name, kind, model, age, warranty in devices:
        for t in (name, kind, model):
            d.text(t)
        d.score(age)
        d.text(warranty)
    for b in budgets:
        # score (0..100) times a 24-bit factor
        if b is None:
            d.score(None)
            d.b += b"\0\0\0"
        else:
            value, factor = b
            d.score(value)
            d.b += struct.pack("<I", factor)[:3]
    for items in roadmap:
        d.u8(len(items))
        for item in items:
            for t in item:
                d.text(t)
    d.u8(len(actions))
    for a in actions:
        for t in a:
            d.text(t)
    return bytes(d.b)


SUMMARY = ("Müller & Söhne finished the year in good health: Standards rose to 83, Risk fell to 15 "
           "and Experience held at 78 [Ticket #4411].\nThe biggest win was the ERP server: zero "
           "unplanned downtime after the October patch window [Device: SRV-ERP-01].")
LEVELS = ["high", "medium", "low", "high", "medium", "high", "low"]
SAMPLE = dict(
    draft=True, logo=1, summary=SUMMARY,
    trends="Ticket volume decreased 15% quarter over quarter [Ticket #4398].",
    scores=((83, "Standards +5 vs. Q3 2025"), (15, "Risk −3 vs. Q3 2025"), (78, "Experience +2")),
    recs=[("Replace aging workstations", "Twelve workstations are more than four years old "
           "[Device: WS-ACCT-07].", "high", "medium", "€14,000–€18,000",
           ["[Ticket #4411]", "[Device: SRV-ERP-01]"])],
    points=["Budget approval for the 2026 workstation refresh",
            "Who owns the security awareness programme at Müller & Söhne?"],
    risks=[("Risk title", "Business impact text that is long enough to wrap onto a second line",
            "open", "Mitigation action that is also long enough to wrap in the table",
            LEVELS[i], LEVELS[(i + 2) % 7]) for i in range(7)],
    wins=["Zero unplanned downtime on the ERP server [Device: SRV-ERP-01]",
          "MFA now enforced for every administrator account [Policy: Require MFA for admins]",
          "Average first response time fell from 42 to 18 minutes [Ticket #4411]",
          "Phishing click rate down to 3%", "Retired the last Windows 10 workstation",
          "A sixth win that must not be shown"],
    months=[("2025-%02d" % (i + 1), 60 + (i * 37) % 50) for i in range(12)],
    service=(940, 1000, 23, 1000, 87),
    areas=((72, "Identity summary [Policy: Require MFA].",
            ["42 of 45 users have MFA enabled [Policy: Require MFA]"]),
           (88, "Email summary.", []), (None, None, [])),
    devices=[("WS-%03d" % i, "endpoint", "Dell OptiPlex 7060", 3.5 + (i % 5) * 0.5,
              "2024-06-30" if i % 2 else "2026-06-30") for i in range(60)],
    budgets=((18, 1000), (42.5, 1000), (61, 1000)),
    roadmap=([("Replace 12 aging workstations", "high", "€14,000–€18,000"),
              ("Conditional access for all users", "medium", "€2,000")],
             [("Server 2016 retirement", "low", "€9,000")], []),
    actions=[("Approve the workstation refresh budget", "Anna Müller (CFO)", "2026-01-31"),
             ("Schedule conditional access rollout", "Bright IT", "2026-02-15")])

RGB16_INTERLACED = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000110020000"
    "01b7e0bf0b0000000f4944415478da63606030 35cdca020002b8013f4ca1de15"
    "0000000049454e44ae426082".replace(" ", ""))

SEEDS = {
    "sample": document(**SAMPLE),
    "sample-a4-compressed": document(**dict(SAMPLE, a4=True, compressed=True, draft=False, logo=2)),
    "empty": document(client="Empty Client", period="Q1 2026", segment=None, industry=None,
                      as_of=None, msp=None, currency=None),
    "no-client": document(client=None),
    "huge-text": document(summary=("repeat", "abcdefg ", 4096), trends=("repeat", "x", 4096),
                          client=("repeat", "Client ", 1024),
                          actions=[(("repeat", "word ", 2048), "x", "2026-01-01"),
                                   ("short", ("repeat", "y", 4096), None)]),
    "out-of-range": document(a4=True, scores=((("any", 140.0), ("repeat", "word +5 ", 800)),
                                              (("any", -5.0), "Risk"),
                                              (("any", float("nan")), "Experience")),
                             months=[("2025-01", 2 ** 63 - 1), ("x", -1), ("2025-13", 10 ** 15)],
                             service=(2 ** 63 - 1, 5, 2 ** 63 - 1, 0, -(2 ** 63)),
                             areas=((("any", float("inf")), "s", ["c"]), (("any", 1e300), None, []),
                                    (("any", -1e300), "", [])),
                             devices=[("D", "server", "M", ("any", 1e18), "2024-02-30")],
                             budgets=((("any", 1e300), 1), (100, 0xFFFFFF), (("any", -1.0), 5))),
    "awkward-texts": document(client="Ελλάδα Привет", period="日本語のテキスト", msp="emoji",
                              summary="parens", trends="bad utf-8", currency="CHF",
                              wins=["tab and newline", "W", "", None],
                              risks=[("emoji", None, None, None, "critical", "5")]),
    "raw-logo-cancel": document(**dict(SAMPLE, logo=3, logo_bytes=RGB16_INTERLACED, cancel=3)),
    "bad-font": document(bad_font=True),
    # a word of more than 65,535 bytes with characters the width cache does
    # not hold (emoji): libharu refused to measure it and the render failed
    "regress-long-emoji-word": document(summary=("repeat", "\U0001F600" * 8, 2081)),
    # an MSP name over 65,535 bytes: libharu refused it as the PDF's author
    "regress-long-msp-name": document(msp=("repeat", "Bright IT Services GmbH & Co KG ", 2081)),
    # 240 KB of U+200B ZERO WIDTH SPACE: one line, more than libharu shows at once
    "regress-zero-width-line": document(summary=("repeat", "\u200b" * 10, 8161)),
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_render")
    os.makedirs(outdir, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), outdir))


if __name__ == "__main__":
    main()
