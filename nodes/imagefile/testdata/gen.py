#!/usr/bin/env python3
"""Regenerates this package's golden files from ComfyUI's own code.

    /usr/bin/python3 nodes/imagefile/testdata/gen.py

Needs the ComfyUI git mirror (v0.27.0, the spec's baseline); the Go tests do
not need it.

object_info/<Class>.json
    ComfyUI's /object_info entry for each class, as server.py's node_info
    writes it (json.dumps, default separators), from the real nodes.py
    classes. LoadImage and LoadImageMask list an input folder holding the
    files of INPUT_FILES below, filtered by the real
    folder_paths.filter_files_content_types after utils/mime_types.py's
    init_mime_types, so the golden files also pin the listing rules.
    objectinfo_test.go builds the same folder.

    WebcamCapture is the real comfy_extras/nodes_webcam.py class, a subclass
    of that LoadImage.

    The comfy_extras.nodes_images classes of V3_CLASSES are rendered by
    comfy_api's GET_NODE_INFO_V1, loaded with nodes/imagenode/testdata/gen.py's
    setup (the real comfy_api with stand-ins for what the module imports but
    does not compute with).

    The DATASET_CLASSES of comfy_extras.nodes_dataset are rendered the same
    way, their folder list by the real folder_paths.get_input_subfolders
    over that input folder.

dataset/
    in/ holds the files of dataset_inputs() and load.json what the real
    LoadImageDataSetFromFolder.execute returns for that folder (each
    image's shape and its values times 255, all whole numbers). save.json
    is what SaveImageDataSetToFolder.execute writes for the cases of
    dataset_saves(): the file names and each file's pixels as Pillow reads
    them back. text/ holds the files of text_inputs(); load_text.json is
    what the real LoadImageTextDataSetFromFolder.execute returns for it
    (os.listdir sorted, as gocomfy lists), save_text.json what
    SaveImageTextDataSetToFolder.execute writes for text_saves()' cases,
    captions as text. dataset_test.go runs the same cases.

saved/
    What ComfyUI v0.27.0's own save code writes for the cases of saves() below
    (files named after the case) and ui.json, each case's UI as the node
    returns it. The code runs for real: ImageSaveHelper's animated PNG and
    WebP writers with Debian's Pillow 9.4, SaveSVGNode.execute, and
    SaveImageAdvanced.execute with Debian's PyAV 10 (FFmpeg 5.1) instead of
    the module's stand-in; only folder_paths is replaced (every save goes to
    one folder with counter 1). Inputs are pattern(), which saved_test.go
    computes the same way. PyAV 10 cannot take a four-channel float array,
    so the RGBA EXR case is not here. Pillow 9.4 writes APNG timing and
    single frames as older Pillow did; gocomfy follows current Pillow, and
    saved_test.go's compareAPNG lists what it therefore does not compare.

Needs Debian's python3-pil, python3-numpy, python3-torch and python3-av
(apt-get install), run with /usr/bin/python3.
"""
import ast
import importlib.util
import io
import json
import mimetypes
import os
import shutil
import subprocess
import sys
import tempfile
import types
import typing

COMFY = "/work/.mirror/1696762169+ComfyUI/repo"
REV = "77917ed3a6291689e5c2ee8ccbdd6708e85a53a6"  # v0.27.0
HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["LoadImage", "LoadImageMask", "LoadImageOutput", "SaveImage", "PreviewImage"]
V3_CLASSES = ["SaveAnimatedWEBP", "SaveAnimatedPNG", "SaveSVGNode", "SaveImageAdvanced"]
DATASET_CLASSES = ["LoadImageDataSetFromFolder", "SaveImageDataSetToFolder", "LoadImageTextDataSetFromFolder",
                   "SaveImageTextDataSetToFolder"]

# Keep in step with inputFiles in objectinfo_test.go. Names ending in "/"
# are folders.
INPUT_FILES = ["b.png", "A.JPG", "c.txt", "d.webp", "e.gif", ".hidden.png", ".png", "f.svg", "g.jpeg",
               "noext", "h.tar", "Z.bmp", "x.PnG", "y.avif", "w.mp4", "k.tiff", "\u00e9t\u00e9.png",
               "dir.png/", "sub/", "sub/in-sub.png"]


def git_show(path):
    return subprocess.run(["git", "-C", COMFY, "show", f"{REV}:{path}"], check=True, capture_output=True).stdout.decode()


def exec_defs(path, names, ns):
    """Executes the named top-level definitions of a ComfyUI file in ns."""
    tree = ast.parse(git_show(path))
    body = [n for n in tree.body if getattr(n, "name", None) in names
            or (isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) in names)]
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), ns)
    return ns


def v1_info(name, cls, display, module="nodes"):
    """server.py's node_info for a V1 class."""
    info = {"input": cls.INPUT_TYPES(),
            "input_order": {k: list(v.keys()) for k, v in cls.INPUT_TYPES().items()},
            "is_input_list": getattr(cls, "INPUT_IS_LIST", False),
            "output": cls.RETURN_TYPES,
            "output_is_list": getattr(cls, "OUTPUT_IS_LIST", [False] * len(cls.RETURN_TYPES))}
    info["output_name"] = getattr(cls, "RETURN_NAMES", info["output"])
    info["name"] = name
    info["display_name"] = display.get(name, name)
    info["description"] = getattr(cls, "DESCRIPTION", "")
    info["python_module"] = module
    info["category"] = "sd"
    info["output_node"] = getattr(cls, "OUTPUT_NODE", False) is True
    info["has_intermediate_output"] = getattr(cls, "HAS_INTERMEDIATE_OUTPUT", False) is True
    if hasattr(cls, "CATEGORY"):
        info["category"] = cls.CATEGORY
    for flag in ("deprecated", "experimental", "dev_only"):
        if getattr(cls, flag.upper(), False):
            info[flag] = True
    info["search_aliases"] = getattr(cls, "SEARCH_ALIASES", [])
    if hasattr(cls, "ESSENTIALS_CATEGORY"):
        info["essentials_category"] = cls.ESSENTIALS_CATEGORY
    return info


def main():
    """Writes the nodes.py classes' object_info and returns the input
    folder and the folder_paths stand-in."""
    input_dir = tempfile.mkdtemp()
    for name in INPUT_FILES:
        p = os.path.join(input_dir, name)
        if name.endswith("/"):
            os.makedirs(p, exist_ok=True)
        else:
            with open(p, "w"):
                pass
    exec_defs("utils/mime_types.py", {"_initialized", "init_mime_types"}, {"mimetypes": mimetypes})["init_mime_types"]()
    fp = types.ModuleType("folder_paths")
    ns = exec_defs("folder_paths.py", {"extension_mimetypes_cache", "filter_files_content_types"},
                   {"mimetypes": mimetypes, "List": typing.List, "Literal": typing.Literal})
    fp.filter_files_content_types = ns["filter_files_content_types"]
    fp.get_input_directory = lambda: input_dir
    nodes = exec_defs("nodes.py", set(CLASSES) | {"NODE_DISPLAY_NAME_MAPPINGS", "MAX_RESOLUTION"}, {"folder_paths": fp, "os": os})
    os.makedirs(os.path.join(HERE, "object_info"), exist_ok=True)
    for name in CLASSES:
        info = v1_info(name, nodes[name], nodes["NODE_DISPLAY_NAME_MAPPINGS"])
        with open(os.path.join(HERE, "object_info", name + ".json"), "w") as f:
            f.write(json.dumps(info) + "\n")
    base = types.SimpleNamespace(LoadImage=nodes["LoadImage"], MAX_RESOLUTION=nodes["MAX_RESOLUTION"])
    webcam = exec_defs("comfy_extras/nodes_webcam.py", {"MAX_RESOLUTION", "WebcamCapture", "NODE_DISPLAY_NAME_MAPPINGS"},
                       {"nodes": base, "folder_paths": fp})
    info = v1_info("WebcamCapture", webcam["WebcamCapture"], webcam["NODE_DISPLAY_NAME_MAPPINGS"],
                   "comfy_extras.nodes_webcam")
    with open(os.path.join(HERE, "object_info", "WebcamCapture.json"), "w") as f:
        f.write(json.dumps(info) + "\n")
    fp.get_input_subfolders = exec_defs("folder_paths.py", {"get_input_subfolders"}, {"os": os, "fp": fp})[
        "get_input_subfolders"]
    fp.get_input_subfolders.__globals__["get_input_directory"] = fp.get_input_directory
    return fp


# --- saved files -------------------------------------------------------------

# The hidden inputs of every save case: non-ASCII text and a float, so the
# files show json.dumps' escapes and float repr; "inputs" first, as the
# frontend sends a prompt.
PROMPT = {"3": {"inputs": {"cfg": 7.5, "text": "caf\u00e9 \u2603", "model": ["4", 0]}, "class_type": "KSampler"}}
EXTRA = {"workflow": {"nodes": [], "version": 0.4}, "extra": "x"}

SVG_TEXT = ('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"\n width="4" height="4">'
            '<svg x="1"><rect width="1" height="1"/></svg><text>\u00e9</text></svg>\n')


def pattern(b, h, w, c, scale=1.0, offset=0.0):
    """Keep in step with pattern in saved_test.go: a ramp per channel,
    frames 1 and 2 alike with a changed rectangle, frame 3 changed all over,
    as bytes/255 in float32, then times scale plus offset (float32 steps)."""
    import numpy as np
    import torch
    bb, y, x, ch = np.indices((b, h, w, c))
    bump = np.where((bb == 1) | (bb == 2), np.where((x >= 2) & (x < 5) & (y >= 1) & (y < 4), 50, 0),
                    np.where(bb >= 3, 40 * (bb - 2), 0))
    v = torch.from_numpy(((7 * x + 3 * y + 85 * ch + bump) % 256).astype(np.uint8)).float() / 255
    if scale != 1.0 or offset != 0.0:
        v = v * torch.tensor(scale, dtype=torch.float32) + torch.tensor(offset, dtype=torch.float32)
    return v


def load_v3():
    spec = importlib.util.spec_from_file_location("comfygen", os.path.join(HERE, "../../imagenode/testdata/gen.py"))
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
    classes, _ = g.setup(v1=[], v3={"comfy_extras.nodes_images": V3_CLASSES,
                                    "comfy_extras.nodes_dataset": DATASET_CLASSES})
    # PyAV for real (it imports submodules lazily, so the stand-in finder
    # must leave "av" alone from now on).
    stubs = next(f for f in sys.meta_path if isinstance(f, g._Stubs))
    find = stubs.find_spec
    stubs.find_spec = lambda name, *a: None if name == "av" or name.startswith("av.") else find(name, *a)
    for k in [k for k in sys.modules if k == "av" or k.startswith("av.")]:
        del sys.modules[k]
    import av
    sys.modules["comfy_extras.nodes_images"].av = av
    return classes


def saves(classes):
    import types as t
    import comfy_api.latest._ui as ui
    from comfy_api.latest._util.image_types import SVG
    out = os.path.join(HERE, "saved")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    work = tempfile.mkdtemp()
    fp = t.SimpleNamespace(get_output_directory=lambda: work, get_temp_directory=lambda: work,
                           get_input_directory=lambda: work,
                           get_save_image_path=lambda prefix, d, w=0, h=0: (d, prefix, 1, "", prefix))
    ui.folder_paths = fp
    sys.modules["comfy_extras.nodes_images"].folder_paths = fp
    hidden = t.SimpleNamespace(unique_id=None, prompt=PROMPT, extra_pnginfo=EXTRA)
    no_meta = t.SimpleNamespace(unique_id=None, prompt=None, extra_pnginfo=None)
    results = {}

    def run(name, cls, h, **inputs):
        cls.hidden = h
        res = cls.execute(**inputs)
        d = res.ui.as_dict() if hasattr(res.ui, "as_dict") else res.ui
        for i, r in enumerate(d["images"]):
            src = os.path.join(work, r["filename"])
            ext = os.path.splitext(r["filename"])[1]
            dst = name + ("" if len(d["images"]) == 1 else "_%d" % i) + ext
            shutil.move(src, os.path.join(out, dst))
        results[name] = json.loads(json.dumps(d))

    apng, webp = classes["SaveAnimatedPNG"], classes["SaveAnimatedWEBP"]
    run("apng_rgb", apng, hidden, images=pattern(4, 5, 6, 3), fps=8.0, compress_level=4, filename_prefix="apng_rgb")
    run("apng_rgba_single", apng, no_meta, images=pattern(1, 5, 6, 4), fps=6.0, compress_level=9,
        filename_prefix="apng_rgba_single")
    run("webp_lossless", webp, hidden, images=pattern(4, 5, 6, 3), fps=8.0, filename_prefix="webp_lossless",
        lossless=True, quality=80, method="default")
    run("webp_rgba_single", webp, no_meta, images=pattern(1, 5, 6, 4), fps=6.0, filename_prefix="webp_rgba_single",
        lossless=True, quality=100, method="fastest")
    svg = classes["SaveSVGNode"]
    run("svg", svg, hidden, svg=SVG([io.BytesIO(SVG_TEXT.encode()), io.BytesIO(b"<svg/>")]), filename_prefix="svg")
    run("svg_no_metadata", svg, no_meta, svg=SVG([io.BytesIO(SVG_TEXT.encode())]), filename_prefix="svg_no_metadata")
    adv = classes["SaveImageAdvanced"]
    wide = dict(scale=1.5, offset=-0.25)
    run("png8", adv, hidden, images=pattern(1, 5, 6, 3, **wide), filename_prefix="png8",
        format={"format": "png", "bit_depth": "8-bit", "input_color_space": "sRGB"})
    run("png16_rgba", adv, hidden, images=pattern(2, 5, 6, 4, **wide), filename_prefix="png16_rgba",
        format={"format": "png", "bit_depth": "16-bit", "input_color_space": "sRGB"})
    run("png16_rgb", adv, no_meta, images=pattern(1, 5, 6, 3, **wide), filename_prefix="png16_rgb",
        format={"format": "png", "bit_depth": "16-bit", "input_color_space": "sRGB"})
    for cs in ["sRGB", "HDR", "linear"]:
        run("exr_" + cs, adv, hidden, images=pattern(1, 5, 6, 3, **wide), filename_prefix="exr_" + cs,
            format={"format": "exr", "bit_depth": "32-bit float", "input_color_space": cs})
    run("exr_no_metadata", adv, no_meta, images=pattern(1, 3, 2, 3), filename_prefix="exr_no_metadata",
        format={"format": "exr", "bit_depth": "32-bit float", "input_color_space": "linear"})
    with open(os.path.join(out, "ui.json"), "w") as f:
        f.write(json.dumps(results, indent=1, sort_keys=True) + "\n")


def dataset_inputs(d):
    """Keep in step with datasetInputs in dataset_test.go: files the loader
    takes (8-bit RGB, RGBA, grey, palette, an upper-case extension, lossless
    WebP) and files and folders it leaves out."""
    from PIL import Image
    import numpy as np
    os.makedirs(os.path.join(d, "skip.png.d"), exist_ok=True)
    img = lambda mode, c: Image.fromarray((pattern(1, 5, 6, c)[0].numpy() * 255).round().astype(np.uint8).squeeze())
    img("RGB", 3).save(os.path.join(d, "a_rgb.png"))
    img("RGBA", 4).save(os.path.join(d, "b_rgba.png"))
    img("L", 1).save(os.path.join(d, "c_grey.png"))
    img("RGB", 3).quantize(5).save(os.path.join(d, "d_palette.png"))
    img("RGB", 3).save(os.path.join(d, "E_UPPER.PNG"))
    img("RGBA", 4).save(os.path.join(d, "f_lossless.webp"), lossless=True)
    img("RGB", 3).save(os.path.join(d, "g_ignored.bmp"))
    with open(os.path.join(d, "notes.txt"), "w") as f:
        f.write("not an image")


def dataset_saves(classes, fp_input):
    import numpy as np
    from PIL import Image
    out = os.path.join(HERE, "dataset")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "in"))
    dataset_inputs(os.path.join(out, "in"))
    mod = sys.modules["comfy_extras.nodes_dataset"]
    mod.folder_paths = types.SimpleNamespace(get_input_directory=lambda: out)
    # The real load_and_process_images, with node_helpers.pillow as it is.
    mod.node_helpers = types.SimpleNamespace(pillow=lambda fn, arg: fn(arg))
    res = classes["LoadImageDataSetFromFolder"].execute(folder="in")
    # ComfyUI takes os.listdir's order; gocomfy sorts, so the golden file does too.
    names = sorted(f for f in os.listdir(os.path.join(out, "in"))
                   if any(f.lower().endswith(e) for e in [".png", ".jpg", ".jpeg", ".webp"]))
    unsorted = [f for f in os.listdir(os.path.join(out, "in"))
                if any(f.lower().endswith(e) for e in [".png", ".jpg", ".jpeg", ".webp"])]
    loaded = dict(zip(unsorted, res.args[0]))
    with open(os.path.join(out, "load.json"), "w") as f:
        f.write(json.dumps([{"file": n, "shape": list(loaded[n].shape),
                             "values": (loaded[n] * 255).round().int().flatten().tolist()} for n in names]) + "\n")

    work = tempfile.mkdtemp()
    mod.folder_paths = types.SimpleNamespace(get_output_directory=lambda: work,
                                             get_save_image_path=real_save_image_path())
    save = classes["SaveImageDataSetToFolder"]
    cases = {}
    images = [pattern(1, 5, 6, 3), pattern(1, 4, 7, 4, scale=1.5, offset=-0.25), pattern(1, 3, 5, 2)]
    for case, folder, prefix, mode, runs in [("overwrite", "set", "image", "overwrite", 2),
                                             ("increment", "deep/set", "pic", "increment", 2),
                                             ("root", "", "x", "overwrite", 1)]:
        before = set(walk(work))
        for _ in range(runs):
            save.execute(images=images, folder_name=[folder], filename_prefix=[prefix], mode=[mode])
        files = sorted(set(walk(work)) - before)
        cases[case] = [{"file": n, "pixels": np.array(Image.open(os.path.join(work, n))).flatten().tolist(),
                        "mode": Image.open(os.path.join(work, n)).mode} for n in files]
    with open(os.path.join(out, "save.json"), "w") as f:
        f.write(json.dumps(cases, indent=1) + "\n")
    text_dataset(classes, mod, out, images)


def text_inputs(d):
    """Keep in step with textInputs in dataset_test.go: images with and
    without captions, a kohya "2_" folder repeated twice and a plain one."""
    from PIL import Image
    import numpy as np
    img = lambda c, k: Image.fromarray(((pattern(1, 3, 4, c)[0].numpy() * 255).round().astype(np.uint8) + k).squeeze())
    for sub in ["", "2_rep", "plain"]:
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    img(3, 0).save(os.path.join(d, "a.png"))
    img(3, 10).save(os.path.join(d, "b.jpg.png"))
    img(4, 20).save(os.path.join(d, "2_rep", "c.png"))
    img(3, 30).save(os.path.join(d, "2_rep", "d.webp"), lossless=True)
    img(3, 40).save(os.path.join(d, "plain", "e.png"))
    for name, text in [("a.txt", "  caf\u00e9 caption\n\n"), ("b.jpg.txt", "\x1cdouble\x1f"), ("b.txt.txt", "not a caption"),
                       ("2_rep/c.txt", "repeated"), ("plain/e.txt", "plain\r\n"), ("notes.txt", "not a caption")]:
        with open(os.path.join(d, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)


def text_dataset(classes, mod, out, images):
    import numpy as np
    from PIL import Image
    text_inputs(os.path.join(out, "text"))
    real_os = os
    mod.os = types.SimpleNamespace(listdir=lambda p: sorted(real_os.listdir(p)), path=os.path)
    mod.folder_paths = types.SimpleNamespace(get_input_directory=lambda: out)
    res = classes["LoadImageTextDataSetFromFolder"].execute(folder="text")
    mod.os = os
    with open(os.path.join(out, "load_text.json"), "w") as f:
        f.write(json.dumps({"images": [{"shape": list(t.shape), "values": (t * 255).round().int().flatten().tolist()}
                                       for t in res.args[0]], "texts": res.args[1]}) + "\n")
    work = tempfile.mkdtemp()
    mod.folder_paths = types.SimpleNamespace(get_output_directory=lambda: work,
                                             get_save_image_path=real_save_image_path())
    save = classes["SaveImageTextDataSetToFolder"]
    cases = {}
    for case, texts, mode in [("captions", ["first \u00e9", "second\n"], "overwrite"),
                              ("no_texts", None, "overwrite"), ("increment", ["one", "two", "three"], "increment")]:
        before = set(walk(work))
        save.execute(images=images, folder_name=["t_" + case], filename_prefix=["im.png"], mode=[mode], texts=texts)
        got = []
        for n in sorted(set(walk(work)) - before):
            p = os.path.join(work, n)
            if n.endswith(".txt"):
                with open(p, encoding="utf-8", newline="") as f:
                    got.append({"file": n, "text": f.read()})
            else:
                got.append({"file": n, "mode": Image.open(p).mode,
                            "pixels": np.array(Image.open(p)).flatten().tolist()})
        cases[case] = got
    with open(os.path.join(out, "save_text.json"), "w") as f:
        f.write(json.dumps(cases, indent=1) + "\n")


def walk(d):
    for root, _, files in os.walk(d):
        for n in files:
            yield os.path.relpath(os.path.join(root, n), d)


def real_save_image_path():
    import logging
    import time
    return exec_defs("folder_paths.py", {"get_save_image_path"}, {"os": os, "time": time, "logging": logging})[
        "get_save_image_path"]


fp = main()
classes = load_v3()
sys.modules["comfy_extras.nodes_dataset"].folder_paths = fp
for name in V3_CLASSES + DATASET_CLASSES:
    with open(os.path.join(HERE, "object_info", name + ".json"), "w") as f:
        f.write(json.dumps(classes[name].GET_NODE_INFO_V1()) + "\n")
saves(classes)
dataset_saves(classes, fp)
