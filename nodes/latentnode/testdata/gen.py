#!/usr/bin/env python3
"""Regenerates the golden files of this package's comfy_extras.nodes_rebatch
class from ComfyUI's own code.

    /usr/bin/python3 nodes/latentnode/testdata/gen.py

It uses nodes/imagenode/testdata/gen.py to load ComfyUI v0.27.0 from the git
mirror with Debian's torch (see there) and to write the files:

object_info/RebatchLatents.json
    ComfyUI's /object_info entry (GET_NODE_INFO_V1, json.dumps).

golden/RebatchLatents.json
    Cases: lists of LATENT inputs and the list ComfyUI's execute() returns,
    or the error it raises. A LATENT is written as its dict, tensors as
    {"TENSOR": {"shape", "data"}} with the shortest float32 digits.
"""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("comfygen", os.path.join(HERE, "../../imagenode/testdata/gen.py"))
g = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(g)


def lat(*shape, **keys):
    return dict(samples=g.image(*shape), **keys)


def cases():
    return {"RebatchLatents": [
        g.case("joined and cut", 0.0, True, latents=[lat(3, 4, 2, 3), lat(2, 4, 2, 3)], batch_size=[2]),
        g.case("a size change ends the batch", 0.0, True,
               latents=[lat(1, 4, 2, 2), lat(2, 4, 3, 3), lat(1, 4, 2, 2)], batch_size=[4]),
        g.case("noise masks joined with ones", 0.0, True,
               latents=[lat(2, 4, 2, 2, noise_mask=g.image(2, 1, 16, 16)), lat(1, 4, 2, 2)], batch_size=[2]),
        g.case("short mask repeated", 0.0, True, latents=[lat(3, 4, 2, 2, noise_mask=g.image(2, 1, 16, 16))],
               batch_size=[2]),
        g.case("3-D mask repeated whole", 0.0, True, latents=[lat(3, 4, 1, 1, noise_mask=g.mask(2, 8, 8))],
               batch_size=[4]),
        g.case("batch indices kept and continued", 0.0, True,
               latents=[lat(2, 4, 1, 1, batch_index=[5, 7]), lat(2, 4, 1, 1)], batch_size=[3]),
        g.case("first batch_size counts", 0.0, True, latents=[lat(3, 4, 1, 2)], batch_size=[2, 1]),
        g.case("fewer batch indices than samples", 0.0, True, latents=[lat(3, 4, 1, 1, batch_index=[9])],
               batch_size=[1]),
        g.case("batch indices run out", 0.0, True, latents=[lat(3, 4, 1, 1, batch_index=[9])], batch_size=[2]),
        g.case("channels differ", 0.0, True, latents=[lat(1, 4, 2, 2), lat(1, 3, 2, 2)], batch_size=[2]),
        g.case("video latents", 0.0, True, latents=[lat(2, 4, 3, 2, 2)], batch_size=[1]),
        g.case("no latents", 0.0, True, latents=[], batch_size=[2]),
    ]}


if __name__ == "__main__":
    classes, display = g.setup([], {"comfy_extras.nodes_rebatch": ["RebatchLatents"]})
    g.write(HERE, classes, display, [], cases())
