#!/usr/bin/env python3
"""Regenerates pillow.json: what Pillow computes for small RGB images.

    /usr/bin/python3 nodes/imagenode/pilquant/testdata/gen.py

Needs Debian bookworm's python3-pil (9.4.0) and numpy; the Go tests do not.
Each case is an image (w, h, packed RGB bytes), a colour count, and Pillow's
results, bytes written in hex: the palette of im.quantize(colors) (all 256 entries), and the
palette indices of im.quantize(palette=that, dither=NONE) and of
dither=FLOYDSTEINBERG. The images are uniform noise, a few colours (many
equal counts, which exercise the median cut's tie-breaking), equal-count
stripes, gradients and narrow ranges.
"""
import json
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def image(rs, kind, h, w):
    if kind == "noise":
        return rs.randint(0, 256, (h, w, 3))
    if kind == "few colours":
        k = rs.randint(1, 12)
        return rs.randint(0, 256, (k, 3))[rs.randint(0, k, (h, w))]
    if kind == "stripes":
        return rs.randint(0, 256, (8, 3))[(np.arange(h * w) % 8).reshape(h, w)]
    if kind == "gradient":
        y, x = np.mgrid[0:h, 0:w]
        return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 7 % 256], -1)
    return rs.randint(100, 110, (h, w, 3))


def main():
    rs = np.random.RandomState(5)
    cases = []
    kinds = ["noise", "few colours", "stripes", "gradient", "narrow"]
    for i in range(60):
        h, w = (int(v) for v in rs.randint(1, 14, 2))
        a = image(rs, kinds[i % len(kinds)], h, w)
        a = np.clip(a, 0, 255).astype(np.uint8)
        im = Image.fromarray(a, mode="RGB")
        colors = int(rs.choice([1, 2, 3, 4, 7, 16, 64, 256]))
        pal = im.quantize(colors=colors)
        cases.append({"kind": kinds[i % len(kinds)], "w": w, "h": h, "colors": colors, "rgb": a.tobytes().hex(),
                      "palette": bytes(pal.getpalette()).hex(),
                      "none": np.array(im.quantize(palette=pal, dither=Image.Dither.NONE)).tobytes().hex(),
                      "fs": np.array(im.quantize(palette=pal, dither=Image.Dither.FLOYDSTEINBERG)).tobytes().hex()})
    with open(os.path.join(HERE, "pillow.json"), "w") as f:
        f.write("[" + ",\n".join(json.dumps(c) for c in cases) + "]\n")


main()
