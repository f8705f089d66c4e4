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
"""
import ast
import json
import mimetypes
import os
import subprocess
import tempfile
import types
import typing

COMFY = "/work/.mirror/1696762169+ComfyUI/repo"
REV = "77917ed3a6291689e5c2ee8ccbdd6708e85a53a6"  # v0.27.0
HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["LoadImage", "LoadImageMask", "LoadImageOutput", "SaveImage", "PreviewImage"]

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


def v1_info(name, cls, display):
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
    info["python_module"] = "nodes"
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
    nodes = exec_defs("nodes.py", set(CLASSES) | {"NODE_DISPLAY_NAME_MAPPINGS"}, {"folder_paths": fp, "os": os})
    os.makedirs(os.path.join(HERE, "object_info"), exist_ok=True)
    for name in CLASSES:
        info = v1_info(name, nodes[name], nodes["NODE_DISPLAY_NAME_MAPPINGS"])
        with open(os.path.join(HERE, "object_info", name + ".json"), "w") as f:
            f.write(json.dumps(info) + "\n")


main()
