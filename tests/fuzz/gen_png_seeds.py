#!/usr/bin/env python3
"""Writes the PNG seed corpus of fuzz_logo (tests/fuzz/corpus/fuzz_logo/).

Small valid PNGs of every colour type and every legal bit depth, with and
without a tRNS chunk where PNG allows one, plain and Adam7-interlaced, using
all five row filters; the 1x1 interlaced RGBA PNG that used to crash the
server (libharu's own PNG reader freed its row buffers twice); and a few
broken files for the error paths, among them one that made libpng allocate
1.6 GB.  Only the standard library (zlib, struct):
the encoder below is deliberately independent of libpng, the decoder under
test.  Deterministic: running it again rewrites the same bytes.

    python3 tests/fuzz/gen_png_seeds.py [OUTDIR]
"""
import base64
import os
import struct
import sys
import zlib

SIG = b"\x89PNG\r\n\x1a\n"
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
         (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
# colour type -> (name, channels, legal bit depths, tRNS allowed)
TYPES = {
    0: ("grey", 1, (1, 2, 4, 8, 16), True),
    2: ("rgb", 3, (8, 16), True),
    3: ("palette", 1, (1, 2, 4, 8), True),
    4: ("grey-alpha", 2, (8, 16), False),
    6: ("rgba", 4, (8, 16), False),
}
# the input that crashed the backend: a 1x1 interlaced RGBA PNG
CRASH = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAFoEvQfAAAADUlEQVR4nGP4z8DQ"
         "AAAEgQGALFXOsAAAAABJRU5ErkJggg==")


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, prev, bpp):
    out = bytearray([kind])
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i] if prev is not None else 0
        c = prev[i - bpp] if prev is not None and i >= bpp else 0
        pred = (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]
        out.append((x - pred) & 0xFF)
    return out


def pack_row(pixels, depth):
    """pixels: list of tuples of samples -> bytes of one scanline"""
    if depth == 16:
        return b"".join(struct.pack(">H", s) for px in pixels for s in px)
    if depth == 8:
        return bytes(s for px in pixels for s in px)
    out, acc, nbits = bytearray(), 0, 0
    for px in pixels:
        for s in px:
            acc = (acc << depth) | s
            nbits += depth
            if nbits == 8:
                out.append(acc)
                acc, nbits = 0, 0
    if nbits:
        out.append(acc << (8 - nbits))
    return bytes(out)


def image_data(img, w, h, depth, channels, interlaced):
    bpp = max(1, channels * depth // 8)
    passes = ADAM7 if interlaced else [(0, 0, 1, 1)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        xs = range(x0, w, dx)
        ys = range(y0, h, dy)
        if not xs or not ys:
            continue            # an empty pass has no scanlines at all
        prev = None
        for n, y in enumerate(ys):
            row = pack_row([img[y][x] for x in xs], depth)
            raw += filter_row((y + n) % 5, row, prev, bpp)
            prev = row
    return zlib.compress(bytes(raw), 9)


def make_png(ctype, depth, w, h, trns, interlaced, extra=b""):
    name, channels, _, _ = TYPES[ctype]
    top = (1 << depth) - 1
    palette_size = min(1 << depth, 256) if ctype == 3 else 0

    def sample(x, y, c):
        if ctype == 3:
            return (x * 7 + y * 3 + c) % palette_size
        return ((x * 37 + y * 91 + c * 53) * top // 255) % (top + 1)

    img = [[tuple(sample(x, y, c) for c in range(channels)) for x in range(w)]
           for y in range(h)]
    out = SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0,
                                           1 if interlaced else 0))
    out += extra
    if ctype == 3:
        out += chunk(b"PLTE", bytes((i * 53 + k * 97) % 256
                                    for i in range(palette_size) for k in range(3)))
    if trns:
        if ctype == 0:
            out += chunk(b"tRNS", struct.pack(">H", img[0][0][0]))
        elif ctype == 2:
            out += chunk(b"tRNS", struct.pack(">HHH", *img[0][0]))
        elif ctype == 3:
            # fewer entries than the palette: the rest stay opaque
            n = max(1, palette_size // 2)
            out += chunk(b"tRNS", bytes((i * 67) % 256 for i in range(n)))
    out += chunk(b"IDAT", image_data(img, w, h, depth, channels, interlaced))
    out += chunk(b"IEND", b"")
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_logo")
    os.makedirs(outdir, exist_ok=True)
    files = {}
    sizes = [(1, 1), (3, 2), (5, 7), (9, 4), (13, 9)]
    k = 0
    for ctype, (name, _, depths, trns_ok) in sorted(TYPES.items()):
        for depth in depths:
            for trns in ((False, True) if trns_ok else (False,)):
                for interlaced in (False, True):
                    w, h = sizes[k % len(sizes)]
                    k += 1
                    fname = "%s-%dbit%s%s.png" % (name, depth, "-trns" if trns else "",
                                                   "-interlaced" if interlaced else "")
                    files[fname] = make_png(ctype, depth, w, h, trns, interlaced)

    files["crash-interlaced-rgba-1x1.png"] = base64.b64decode(CRASH)
    # ancillary chunks that are read but change nothing
    files["rgba-8bit-ancillary.png"] = make_png(
        6, 8, 4, 3, False, True,
        extra=chunk(b"gAMA", struct.pack(">I", 45455)) +
        chunk(b"tEXt", b"Software\x00etop gen_png_seeds.py") +
        chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)))
    # broken files: the error paths
    good = make_png(2, 8, 9, 4, False, False)
    files["bad-truncated.png"] = good[:len(good) // 2]
    bad_crc = bytearray(good)
    bad_crc[-20] ^= 0x55
    files["bad-idat-crc.png"] = bytes(bad_crc)
    files["bad-too-large.png"] = (SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 5000, 5000, 8, 2, 0, 0, 0))
                                  + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    files["bad-zero-width.png"] = (SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 3, 8, 2, 0, 0, 0))
                                   + chunk(b"IEND", b""))
    files["bad-palette-missing.png"] = (SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 3, 0, 0, 0))
                                        + chunk(b"IDAT", zlib.compress(b"\x00\x00\x01\x00\x01\x00"))
                                        + chunk(b"IEND", b""))
    # a tEXt chunk declaring 1.6 GB in a 60-byte file: libpng allocated and
    # zeroed all of it before seeing the data was missing (found by fuzz_logo)
    files["bad-huge-text-chunk.png"] = (SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 8, 6, 0, 0, 1))
                                        + struct.pack(">I", 0x6100001E) + b"tEXtSoftware\x00etop")
    for fname, data in sorted(files.items()):
        with open(os.path.join(outdir, fname), "wb") as f:
            f.write(data)
    print("%d PNG seeds in %s" % (len(files), outdir))


if __name__ == "__main__":
    main()
