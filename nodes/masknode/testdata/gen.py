#!/usr/bin/env python3
"""Regenerates object_info/<Class>.json, ComfyUI's /object_info entry of
each class of this package (GET_NODE_INFO_V1, written with json.dumps),
from ComfyUI's own comfy_extras/nodes_mask.py and nodes_compositing.py.

    /usr/bin/python3 nodes/masknode/testdata/gen.py

It uses nodes/imagenode/testdata/gen.py to load ComfyUI v0.27.0 from the git
mirror (see there). The behaviour goldens of these classes are written by
that script, into nodes/imagenode/testdata/golden, and checked by
imagenode's tests.
"""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("comfygen", os.path.join(HERE, "../../imagenode/testdata/gen.py"))
g = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(g)

CLASSES = {
    "comfy_extras.nodes_mask": ["LatentCompositeMasked", "ImageCompositeMasked", "MaskToImage", "ImageToMask",
                                "ImageColorToMask", "SolidMask", "InvertMask", "CropMask", "MaskComposite",
                                "FeatherMask", "GrowMask", "ThresholdMask", "MaskPreview"],
    "comfy_extras.nodes_compositing": ["PorterDuffImageComposite", "SplitImageWithAlpha", "JoinImageWithAlpha"],
    "comfy_extras.nodes_post_processing": ["BatchMasksNode"],
}

if __name__ == "__main__":
    classes, display = g.setup([], CLASSES)
    g.write(HERE, classes, display, [], {})
