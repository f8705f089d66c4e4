#!/usr/bin/env python3
"""Regenerates golden.json: the expected output of ComfyUI's own
comfy.utils.common_upscale for each case.

The oracle is ComfyUI's code itself, not a re-implementation: the functions
common_upscale, lanczos and bislerp are read from the ComfyUI git mirror
(v0.27.0, the spec's baseline) and executed with torch and Pillow. Written
with Debian bookworm's python3-torch 1.13.1 and python3-pil 9.4.0:

    /usr/bin/python3 internal/resample/testdata/gen.py

Tolerances: torch 1.13 computes bilinear weights in float64 where torch
>= 2.1 (which resample follows) uses float32, so bilinear, bicubic and
bislerp differ in the last bits; nearest-exact, area and lanczos must match
exactly.
"""
import ast
import json
import math
import os
import subprocess

import numpy as np
import torch
from PIL import Image

COMFY = "/work/.mirror/1696762169+ComfyUI/repo"
REV = "77917ed3a6291689e5c2ee8ccbdd6708e85a53a6"  # v0.27.0


def comfy_functions(path, names):
    """Executes the named top-level functions of a ComfyUI file."""
    src = subprocess.run(["git", "-C", COMFY, "show", f"{REV}:{path}"],
                         check=True, capture_output=True, text=True).stdout
    tree = ast.parse(src)
    body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    ns = {"torch": torch, "np": np, "Image": Image, "math": math}
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), ns)
    return ns


utils = comfy_functions("comfy/utils.py", {"common_upscale", "lanczos", "bislerp"})
TOL = {"nearest-exact": 0, "area": 0, "lanczos": 0, "bilinear": 2e-6, "bicubic": 4e-6, "bislerp": 2e-6}


def case(name, n, c, h, w, layout, method, width, height, crop=False, lo=0.0, hi=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    if layout == "NHWC":
        x = torch.rand((n, h, w, c), generator=g) * (hi - lo) + lo
        out = utils["common_upscale"](x.movedim(-1, 1), width, height, method,
                                      "center" if crop else "disabled")
        if out.ndim == 4:
            out = out.movedim(1, -1)
    else:
        x = torch.rand((n, c, h, w), generator=g) * (hi - lo) + lo
        out = utils["common_upscale"](x, width, height, method, "center" if crop else "disabled")
    if method == "lanczos" and c == 1:
        # ComfyUI's lanczos returns [N,H,W] for one channel; resample keeps
        # the channel.
        out = out.reshape(n, height, width, 1) if layout == "NHWC" else out.reshape(n, 1, height, width)
    return {"name": name, "shape": [n, c, h, w], "layout": layout, "method": method,
            "width": width, "height": height, "crop": crop, "tol": TOL[method],
            "input": Floats(x), "want": Floats(out)}


class Floats(json.JSONEncoder):
    """A float32 tensor, written with the shortest float32 digits."""

    def __init__(self, t):
        self.text = "[" + ",".join(str(np.float32(v)) for v in t.contiguous().flatten().tolist()) + "]"


def dumps(v):
    if isinstance(v, Floats):
        return v.text
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(k) + ": " + dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(dumps(x) for x in v) + "]"
    return json.dumps(v)


cases = []
for m in ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]:
    lo, hi = (-0.2, 1.2) if m in ("bicubic", "lanczos") else (0.0, 1.0)
    cases += [
        case(f"{m} up", 2, 3, 5, 7, "NHWC", m, 13, 11, lo=lo, hi=hi, seed=1),
        case(f"{m} down", 1, 3, 13, 17, "NHWC", m, 5, 4, lo=lo, hi=hi, seed=2),
        case(f"{m} mixed", 1, 4, 9, 6, "NHWC", m, 4, 14, lo=lo, hi=hi, seed=3),
        case(f"{m} width only", 1, 3, 6, 5, "NHWC", m, 8, 6, seed=4),
        case(f"{m} height only", 1, 3, 6, 5, "NHWC", m, 5, 3, seed=5),
        case(f"{m} same size", 3, 3, 4, 4, "NHWC", m, 4, 4, seed=6),
        case(f"{m} 1x1", 1, 3, 1, 1, "NHWC", m, 3, 2, seed=7),
        case(f"{m} center crop wide", 1, 3, 6, 15, "NHWC", m, 7, 7, crop=True, seed=8),
        case(f"{m} center crop tall", 1, 3, 15, 6, "NHWC", m, 9, 5, crop=True, seed=9),
        case(f"{m} large ratio", 1, 1, 40, 3, "NHWC", m, 5, 37, seed=10),
        case(f"{m} NCHW up", 2, 3, 5, 7, "NCHW", m, 13, 11, lo=lo, hi=hi, seed=11),
        case(f"{m} NCHW crop down", 1, 4, 9, 14, "NCHW", m, 4, 5, crop=True, lo=lo, hi=hi, seed=12),
    ]
for c in (1, 2, 4):
    cases.append(case(f"lanczos NHWC {c} channels", 2, c, 7, 5, "NHWC", "lanczos", 11, 4, lo=-0.1, hi=1.1, seed=20 + c))
cases.append(case("lanczos NCHW 4 channels alpha", 1, 4, 8, 8, "NCHW", "lanczos", 5, 13, seed=30))
cases.append(case("lanczos same size alpha", 1, 4, 3, 3, "NHWC", "lanczos", 3, 3, seed=31))
for layout in ["NCHW", "NHWC"]:
    cases.append(case(f"bislerp {layout} up", 2, 4, 5, 6, layout, "bislerp", 11, 9, lo=-2, hi=2, seed=40))
    cases.append(case(f"bislerp {layout} down", 1, 4, 12, 10, layout, "bislerp", 5, 4, lo=-2, hi=2, seed=41))
    cases.append(case(f"bislerp {layout} crop", 1, 16, 4, 9, layout, "bislerp", 6, 6, crop=True, lo=-2, hi=2, seed=42))

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json"), "w") as f:
    f.write(dumps({"torch": torch.__version__, "pillow": Image.__version__, "cases": cases}).replace("}, {", "},\n{") + "\n")
