#!/usr/bin/env python3
"""Regenerates this package's golden files from ComfyUI's own code.

    /usr/bin/python3 nodes/imagenode/testdata/gen.py

Needs the ComfyUI git mirror (v0.27.0, the spec's baseline) and Debian
bookworm's python3-torch (1.13.1) and python3-pil (9.4.0); the Go tests do
not need any of it.

object_info/<Class>.json
    ComfyUI's /object_info entry for each class, as server.py writes it
    (json.dumps, default separators): V3 classes rendered by comfy_api's
    GET_NODE_INFO_V1 from the real comfy_extras modules, V1 classes by
    server.py's node_info rules from the real nodes.py classes.

golden/<Class>.json
    Cases: inputs and the outputs ComfyUI's execute() returns for them, run
    on the real node code. What the nodes import is real where it computes
    (comfy.utils.common_upscale/lanczos/bislerp/repeat_to_batch_size,
    node_helpers.image_alpha_fix, torch, Pillow) and a stand-in elsewhere
    (model management returns the CPU, the server drops progress text, and
    saving previews records what would be saved: see Saved). Large images
    are written as their recipe (Pattern) and outputs as a digest (Digest).
    This module also serves the gen.py of packages latentnode and masknode
    (setup, case, write).
    kornia is not packaged for Debian: the morphology, YCbCr, Lab and Canny
    functions the nodes call are written below from kornia's definitions
    (flat-kernel erosion/dilation with its "geodesic" border, rgb_to_ycbcr and
    the clamped ycbcr_to_rgb, rgb_to_lab/lab_to_rgb, canny with its NMS and
    hysteresis kernels). Tolerances ("tol") are 0 where the Go code must match bit
    for bit, and otherwise bound the float32 rounding differences each node's
    doc comment describes (torch 1.13 computes bilinear weights in float64,
    convolutions sum in another order, randn uses vectorized sin/log).
"""
import ast
import hashlib
import importlib.abc
import importlib.machinery
import json
import math
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

COMFY = "/work/.mirror/1696762169+ComfyUI/repo"
REV = "77917ed3a6291689e5c2ee8ccbdd6708e85a53a6"  # v0.27.0
HERE = os.path.dirname(os.path.abspath(__file__))

V1 = ["ImageScale", "ImageScaleBy", "ImageInvert", "ImageBatch", "ImagePadForOutpaint", "EmptyImage"]
V3 = {
    "comfy_extras.nodes_post_processing": ["ImageBlend", "ImageBlur", "ImageQuantize", "ImageSharpen",
                                           "ImageScaleToTotalPixels", "ResizeImageMaskNode", "BatchImagesNode",
                                           "BatchMasksNode", "ColorTransfer"],
    "comfy_extras.nodes_mask": ["ImageCompositeMasked", "MaskPreview"],
    "comfy_extras.nodes_compositing": ["PorterDuffImageComposite", "SplitImageWithAlpha", "JoinImageWithAlpha"],
    "comfy_extras.nodes_images": ["ImageCrop", "RepeatImageBatch", "ImageFromBatch", "ImageAddNoise", "ImageStitch",
                                  "ResizeAndPadImage", "GetImageSize", "ImageRotate", "ImageFlip",
                                  "ImageScaleToMaxDimension", "SplitImageToTileList", "ImageMergeTileList",
                                  "ImageCropV2", "PrimitiveBoundingBox"],
    "comfy_extras.nodes_dataset": ["ResizeImagesByShorterEdge", "ResizeImagesByLongerEdge", "CenterCropImages",
                                   "RandomCropImages", "NormalizeImages", "AdjustBrightness", "AdjustContrast",
                                   "ShuffleDataset", "ImageDeduplication", "ImageGrid", "MergeImageLists"],
    "comfy_extras.nodes_morphology": ["Morphology", "ImageRGBToYUV", "ImageYUVToRGB"],
    "comfy_extras.nodes_rebatch": ["RebatchImages"],
    "comfy_extras.nodes_canny": ["Canny"],
    "comfy_extras.nodes_flux": ["FluxKontextImageScale"],
    "comfy_extras.nodes_sdpose": ["CropByBBoxes"],
    "comfy_extras.nodes_image_compare": ["ImageCompare"],
    "comfy_extras.nodes_curve": ["ImageHistogram"],
}
# Imports replaced by empty stand-ins: nothing the tested code computes with.
STUBBED = ("folder_paths", "comfy.", "server", "av", "scipy", "spandrel", "einops", "safetensors",
           "comfy_extras.nodes_latent", "app", "latent_preview", "psutil", "tqdm", "yaml", "aiohttp",
           "comfy_aimdo", "blake3", "requests", "protocol", "packaging")


class _Any(type):
    """A stand-in class: any attribute is another stand-in, arithmetic gives 0."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _stand_in(name)

    def __mul__(cls, o):
        return 0

    __rmul__ = __add__ = __radd__ = __sub__ = __truediv__ = __mul__

    def __bool__(cls):
        return False

    def __iter__(cls):
        return iter(())


def _stand_in(name):
    return _Any(name, (), {"__init__": lambda self, *a, **k: None})


class _StubModule(types.ModuleType):
    __path__ = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _stand_in(name)


class _Stubs(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname not in sys.modules and any(fullname == s or fullname.startswith(s if s.endswith(".") else s + ".")
                                               or fullname == s.rstrip(".") for s in STUBBED):
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module):
        pass


def git_show(path):
    return subprocess.run(["git", "-C", COMFY, "show", f"{REV}:{path}"], check=True, capture_output=True).stdout.decode()


def exec_defs(path, names, ns):
    """Executes the named top-level definitions of a ComfyUI file in ns."""
    tree = ast.parse(git_show(path))
    body = [n for n in tree.body if getattr(n, "name", None) in names
            or (isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) in names)]
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), ns)
    return ns


def module(name, **attrs):
    m = types.ModuleType(name)
    m.__path__ = []
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


# --- kornia, from its definitions -----------------------------------------

def _extreme(x, kernel, is_max):
    k = kernel.shape[0]
    o = k // 2
    border = -1e4 if is_max else 1e4
    p = F.pad(x, [o, k - o - 1, o, k - o - 1], mode="constant", value=border)
    win = p.unfold(2, k, 1).unfold(3, k, 1)
    return win.amax(dim=(-2, -1)) if is_max else win.amin(dim=(-2, -1))


def _dilation(x, kernel):
    return _extreme(x, kernel, True)


def _erosion(x, kernel):
    return _extreme(x, kernel, False)


def _rgb_to_ycbcr(image):
    if len(image.shape) < 3 or image.shape[-3] != 3:
        raise ValueError(f"Input size must have a shape of (*, 3, H, W). Got {image.shape}")
    r, g, b = image[..., 0, :, :], image[..., 1, :, :], image[..., 2, :, :]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.stack([y, (b - y) * 0.564 + 0.5, (r - y) * 0.713 + 0.5], -3)


def _ycbcr_to_rgb(image):
    y, cb, cr = image[..., 0, :, :], image[..., 1, :, :] - 0.5, image[..., 2, :, :] - 0.5
    return torch.stack([y + 1.403 * cr, y - 0.714 * cr - 0.344 * cb, y + 1.773 * cb], -3).clamp(0, 1)


def _canny(input, low_threshold=0.1, high_threshold=0.2, kernel_size=(5, 5), sigma=(1, 1), hysteresis=True, eps=1e-6):
    """kornia.filters.canny: rgb_to_grayscale, gaussian_blur2d (separable,
    reflect), spatial_gradient (sobel, replicate), NMS by its eight 3x3
    kernels and the iterated hysteresis, in torch as kornia writes them."""
    if low_threshold > high_threshold:
        raise ValueError("Invalid input thresholds. low_threshold should be smaller than the high_threshold. "
                         f"Got: {low_threshold}>{high_threshold}")
    dtype = input.dtype
    if input.shape[1] == 3:
        r, g, b = input[:, 0:1], input[:, 1:2], input[:, 2:3]
        w_r, w_g, w_b = torch.tensor([0.299, 0.587, 0.114], dtype=dtype).unbind()
        input = w_r * r + w_g * g + w_b * b
    c = input.shape[1]
    x = (torch.arange(kernel_size[0], dtype=dtype) - kernel_size[0] // 2).expand(1, -1)
    gauss = torch.exp(-x.pow(2.0) / (2 * torch.tensor([[float(sigma[0])]], dtype=dtype).pow(2.0)))
    k = (gauss / gauss.sum(-1, keepdim=True))[0]
    p = kernel_size[0] // 2
    out = F.conv2d(F.pad(input, [p, p, 0, 0], mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    blurred = F.conv2d(F.pad(out, [0, 0, p, p], mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=dtype)
    bsz, _, h, w = blurred.shape
    padded = F.pad(blurred.reshape(bsz * c, 1, h, w), [1, 1, 1, 1], "replicate")
    grads = F.conv2d(padded, torch.stack([sobel, sobel.t()])[:, None]).reshape(bsz, c, 2, h, w)
    gx, gy = grads[:, :, 0], grads[:, :, 1]
    magnitude = torch.sqrt(gx * gx + gy * gy + eps)
    angle = 180.0 * torch.atan2(gy, gx) / torch.tensor(math.pi).to(dtype)
    angle = torch.round(angle / 45) * 45
    nms = torch.zeros(8, 1, 3, 3, dtype=dtype)
    hyst = torch.zeros(8, 1, 3, 3, dtype=dtype)
    for i, (dy, dx) in enumerate([(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]):
        nms[i, 0, 1, 1] = 1
        nms[i, 0, 1 + dy, 1 + dx] = -1
        hyst[i, 0, 1 + dy, 1 + dx] = 1
    nms_magnitude = F.conv2d(magnitude, nms, padding=1)
    positive_idx = ((angle / 45) % 8).long()
    negative_idx = (((angle / 45) + 4) % 8).long()
    selected = torch.stack([torch.gather(nms_magnitude, 1, positive_idx),
                            torch.gather(nms_magnitude, 1, negative_idx)], 1)
    magnitude = magnitude * (selected.min(dim=1)[0] > 0.0)
    edges = ((magnitude > low_threshold) * 0.5 + (magnitude > high_threshold) * 0.5).to(dtype)
    if hysteresis:
        edges_old = -torch.ones(edges.shape, dtype=dtype)
        while ((edges_old - edges).abs() != 0).any():
            weak = (edges == 0.5).float()
            strong = (edges == 1).float()
            hm = (F.conv2d(edges, hyst, padding=1) == 1).any(1, keepdim=True).to(dtype)
            hm = hm * weak + strong
            edges_old = edges.clone()
            edges = hm + (hm == 0) * weak * 0.5
        edges = hm
    return magnitude, edges


def _rgb_to_lab(image):
    """kornia.color.rgb_to_lab: sRGB to linear, XYZ (D65), Lab."""
    if len(image.shape) < 3 or image.shape[-3] != 3:
        raise ValueError(f"Input size must have a shape of (*, 3, H, W). Got {image.shape}")
    lin = torch.where(image > 0.04045, torch.pow(((image + 0.055) / 1.055), 2.4), image / 12.92)
    r, g, b = lin[..., 0, :, :], lin[..., 1, :, :], lin[..., 2, :, :]
    xyz = torch.stack([0.412453 * r + 0.357580 * g + 0.180423 * b,
                       0.212671 * r + 0.715160 * g + 0.072169 * b,
                       0.019334 * r + 0.119193 * g + 0.950227 * b], -3)
    xyz = torch.div(xyz, torch.tensor([0.95047, 1.0, 1.08883], dtype=xyz.dtype)[..., :, None, None])
    threshold = 0.008856
    power = torch.pow(xyz.clamp(min=threshold), 1 / 3.0)
    scale = 7.787 * xyz + 4.0 / 29.0
    f = torch.where(xyz > threshold, power, scale)
    x, y, z = f[..., 0, :, :], f[..., 1, :, :], f[..., 2, :, :]
    return torch.stack([(116.0 * y) - 16.0, 500.0 * (x - y), 200.0 * (y - z)], dim=-3)


def _lab_to_rgb(image, clip=True):
    """kornia.color.lab_to_rgb."""
    L, a, _b = image[..., 0, :, :], image[..., 1, :, :], image[..., 2, :, :]
    fy = (L + 16.0) / 116.0
    fx = (a / 500.0) + fy
    fz = (fy - (_b / 200.0)).clamp(min=0.0)
    fxyz = torch.stack([fx, fy, fz], dim=-3)
    xyz = torch.where(fxyz > 0.2068966, torch.pow(fxyz, 3.0), (fxyz - 4.0 / 29.0) / 7.787)
    xyz = xyz * torch.tensor([0.95047, 1.0, 1.08883], dtype=xyz.dtype)[..., :, None, None]
    x, y, z = xyz[..., 0, :, :], xyz[..., 1, :, :], xyz[..., 2, :, :]
    rgb = torch.stack([3.2404813432005266 * x + -1.5371515162713185 * y + -0.4985363261688878 * z,
                       -0.9692549499965682 * x + 1.8759900014898907 * y + 0.0415559265582928 * z,
                       0.0556466391351772 * x + -0.2040413383665112 * y + 1.0573110696453443 * z], dim=-3)
    threshold = 0.0031308
    rgb = torch.where(rgb > threshold, 1.055 * torch.pow(rgb.clamp(min=threshold), 1 / 2.4) - 0.055, 12.92 * rgb)
    return torch.clamp(rgb, min=0.0, max=1.0) if clip else rgb


class Saved:
    """A PNG a node saved: where (its name's prefix, without the random
    letters, and folder type), how (compress_level) and its pixels, the
    bytes Pillow writes, in hex."""

    def __init__(self, prefix, folder_type, compress_level, image):
        from comfy_api.latest._ui import ImageSaveHelper
        self.arr = np.array(ImageSaveHelper._convert_tensor_to_pil(image))
        self.info = {"prefix": prefix, "type": folder_type, "compress_level": compress_level}

    def dump(self):
        return '{"SAVED": %s}' % json.dumps(dict(self.info, shape=list(self.arr.shape), hex=self.arr.tobytes().hex()))


def _record_save(images, filename_prefix, folder_type, cls, compress_level=4):
    """Stands in for comfy_api's ImageSaveHelper.save_images (previews),
    whose prefix ends in five random letters."""
    return [Saved(filename_prefix[:-5], folder_type.value, compress_level, i) for i in images]


class _PreviewImage:
    """Stands in for nodes.PreviewImage, which other nodes call to save
    previews: the "_temp_" and five random letters it appends, the temp
    folder, compress_level 1."""

    def save_images(self, images, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        return {"ui": {"images": [Saved(filename_prefix + "_temp_", "temp", 1, i) for i in images]}}


def setup(v1=V1, v3=V3):
    """Makes ComfyUI's modules importable with real helpers and stand-ins and
    returns the classes named in v1 (nodes.py) and v3 (module: classes)."""
    src = tempfile.mkdtemp()
    tar = subprocess.run(["git", "-C", COMFY, "archive", REV, "comfy_api", "comfy_execution", "comfy_extras"],
                         check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", src], input=tar, check=True)
    sys.path.insert(0, src)
    sys.meta_path.insert(0, _Stubs())

    utils = exec_defs("comfy/utils.py", {"common_upscale", "lanczos", "bislerp", "repeat_to_batch_size"},
                      {"torch": torch, "np": np, "Image": Image, "math": math})
    mm = dict(get_torch_device=lambda: torch.device("cpu"), intermediate_device=lambda: torch.device("cpu"),
              intermediate_dtype=lambda: torch.float32)
    comfy = module("comfy")
    comfy.utils = module("comfy.utils", **{k: v for k, v in utils.items() if not k.startswith("__")},
                         ProgressBar=type("ProgressBar", (), {"__init__": lambda self, *a, **k: None,
                                                              "update": lambda self, *a, **k: None}))
    comfy.model_management = module("comfy.model_management", **mm)
    module("node_helpers", **exec_defs("node_helpers.py", {"image_alpha_fix"}, {"torch": torch}))
    kornia = module("kornia")
    kornia.morphology = module("kornia.morphology", dilation=_dilation, erosion=_erosion,
                               opening=lambda x, k: _dilation(_erosion(x, k), k),
                               closing=lambda x, k: _erosion(_dilation(x, k), k),
                               gradient=lambda x, k: _dilation(x, k) - _erosion(x, k),
                               top_hat=lambda x, k: x - _dilation(_erosion(x, k), k),
                               bottom_hat=lambda x, k: _erosion(_dilation(x, k), k) - x)
    kornia.filters = module("kornia.filters", canny=_canny)
    kornia.color = module("kornia.color", rgb_to_ycbcr=_rgb_to_ycbcr, ycbcr_to_rgb=_ycbcr_to_rgb,
                          rgb_to_lab=_rgb_to_lab, lab_to_rgb=_lab_to_rgb)
    prompt_server = _stand_in("PromptServer")
    prompt_server.instance = types.SimpleNamespace(send_progress_text=lambda *a: None)
    module("server", PromptServer=prompt_server)
    nodes = module("nodes", MAX_RESOLUTION=16384, comfy=comfy, torch=torch, PreviewImage=_PreviewImage)
    exec_defs("nodes.py", set(v1) | {"NODE_DISPLAY_NAME_MAPPINGS"}, nodes.__dict__)

    import comfy_api.latest._ui as ui
    ui.ImageSaveHelper.save_images = staticmethod(_record_save)

    classes = {}
    for mod_name, names in v3.items():
        mod = __import__(mod_name, fromlist=["*"])
        for v in vars(mod).values():
            if isinstance(v, type) and hasattr(v, "GET_SCHEMA") and v.__module__ == mod_name:
                try:
                    node_id = v.GET_SCHEMA().node_id
                except Exception:
                    continue
                if node_id in names:
                    v.RELATIVE_PYTHON_MODULE = mod_name
                    classes[node_id] = v
    for name in v1:
        classes[name] = getattr(nodes, name)
    return classes, nodes.NODE_DISPLAY_NAME_MAPPINGS


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


# --- values ----------------------------------------------------------------

class Tensor:
    """An IMAGE or MASK value, written with the shortest float32 digits."""

    def __init__(self, kind, t):
        self.kind, self.t = kind, t.contiguous()

    def dump(self):
        data = ",".join(str(np.float32(v)) for v in self.t.flatten().tolist())
        return '{"%s": {"shape": %s, "data": [%s]}}' % (self.kind, json.dumps(list(self.t.shape)), data)


class Digest(Tensor):
    """A large output, written as the SHA-256 of its little-endian float32s."""

    def dump(self):
        sha = hashlib.sha256(self.t.numpy().astype("<f4").tobytes()).hexdigest()
        return '{"%s_SHA256": {"shape": %s, "sha256": "%s"}}' % (self.kind, json.dumps(list(self.t.shape)), sha)


class Pattern(Tensor):
    """A large IMAGE input, written as its shape: the Go test computes the
    same bytes/255 from the same formula, a diagonal ramp per channel plus
    64 levels of multiplicative-hash noise."""

    def __init__(self, *shape):
        i = np.arange(np.prod(shape), dtype=np.uint64).reshape(shape)
        b, y, x, c = np.indices(shape, dtype=np.uint64)
        noise = ((i + 1) * 2654435761 % 2**32) >> 26
        v = (7 * x + 3 * y + 85 * c + noise) % 256
        super().__init__("IMAGE", torch.from_numpy(v.astype(np.uint8)).float() / 255)

    def dump(self):
        return '{"IMAGE_PATTERN": {"shape": %s}}' % json.dumps(list(self.t.shape))


class Latent:
    """A LATENT dict, its tensors written as TENSOR values."""

    def __init__(self, d):
        self.d = d

    def dump(self):
        return '{"LATENT": %s}' % dumps({k: Tensor("TENSOR", v) if isinstance(v, torch.Tensor) else v
                                        for k, v in self.d.items()})


def dumps(v):
    if hasattr(v, "dump"):
        return v.dump()
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(k) + ": " + dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(dumps(x) for x in v) + "]"
    return json.dumps(v)


def wrap(v):
    if isinstance(v, torch.Tensor):
        return Tensor("IMAGE" if v.ndim == 4 else "MASK", v)
    if isinstance(v, list):
        return {"LIST": [wrap(x) for x in v]}
    if isinstance(v, dict) and "samples" in v:
        return Latent(v)
    return v


_seed = [0]


def image(b, h, w, c=3, lo=0.0, hi=1.0):
    _seed[0] += 1
    g = torch.Generator().manual_seed(_seed[0])
    return torch.rand((b, h, w, c), generator=g) * (hi - lo) + lo


def mask(b, h, w):
    return image(b, h, w, 1)[..., 0]


# DynamicCombo inputs, nested even when the chosen option has no inputs.
DYNAMIC_COMBOS = {"source_stats"}


def nest(inputs):
    """Regroups dotted prompt names as build_nested_inputs does: "a.b" goes
    to a["b"], and a plain "a" that also has dotted names to a["a"] (a
    DynamicCombo's key)."""
    groups = {k.split(".")[0] for k in inputs if "." in k} | (DYNAMIC_COMBOS & inputs.keys())
    out = {}
    for k, v in inputs.items():
        head, _, rest = k.partition(".")
        if head in groups:
            out.setdefault(head, {})[rest or head] = v
        else:
            out[k] = v
    return out


def execute(cls, inputs):
    """Runs the node: its outputs, and its UI (None if it has none)."""
    if hasattr(cls, "GET_SCHEMA"):
        cls.hidden = types.SimpleNamespace(unique_id=None, prompt=None, extra_pnginfo=None)
        out = cls.execute(**nest(inputs))
        ui = out.ui.as_dict() if hasattr(out.ui, "as_dict") else out.ui
        return list(out.args), ui
    return list(getattr(cls(), cls.FUNCTION)(**inputs)), None


def run(cls, inputs):
    return execute(cls, inputs)[0]


def case(name, tol=0.0, list_inputs=False, digest=False, **inputs):
    return {"name": name, "tol": tol, "list": list_inputs, "digest": digest, "inputs": inputs}


CASES = {
    "ImageScale": [
        case("bilinear", 2e-6, image=image(1, 5, 7), upscale_method="bilinear", width=11, height=9, crop="disabled"),
        case("lanczos center crop", image=image(2, 6, 4, lo=-0.1, hi=1.1), upscale_method="lanczos", width=5, height=5, crop="center"),
        case("width from height", 4e-6, image=image(1, 6, 10), upscale_method="bicubic", width=0, height=9, crop="disabled"),
        case("height from width", image=image(1, 6, 10), upscale_method="nearest-exact", width=3, height=0, crop="disabled"),
        case("unchanged", image=image(1, 2, 3), upscale_method="area", width=0, height=0, crop="center"),
        case("1x1", image=image(1, 1, 1), upscale_method="area", width=3, height=2, crop="disabled"),
        case("area down rgba", image=image(2, 9, 8, 4), upscale_method="area", width=3, height=4, crop="disabled"),
    ],
    "ImageScaleBy": [
        case("bilinear 1.5", 2e-6, image=image(1, 5, 4), upscale_method="bilinear", scale_by=1.5),
        case("lanczos half, rounding to even", image=image(1, 5, 7), upscale_method="lanczos", scale_by=0.5),
        case("nearest 2", image=image(2, 2, 3), upscale_method="nearest-exact", scale_by=2.0),
        case("too small", image=image(1, 3, 3), upscale_method="bilinear", scale_by=0.01),
    ],
    "ImageScaleToTotalPixels": [
        case("area", image=image(1, 6, 10), upscale_method="area", megapixels=0.0001, resolution_steps=1),
        case("steps", 2e-6, image=image(1, 6, 10), upscale_method="bilinear", megapixels=0.0001, resolution_steps=4),
    ],
    "ImageInvert": [
        case("rgb", image=image(2, 3, 4)),
        case("rgba out of range", image=image(1, 2, 2, 4, lo=-0.5, hi=1.5)),
    ],
    "ImageBatch": [
        case("same size", image1=image(1, 3, 4), image2=image(2, 3, 4)),
        case("resized center", 2e-6, image1=image(1, 4, 6), image2=image(1, 6, 5)),
        case("alpha padded", 2e-6, image1=image(1, 3, 3, 4), image2=image(1, 2, 3, 3)),
        case("channel gap", image1=image(1, 3, 3, 4), image2=image(1, 3, 3, 2)),
    ],
    "ImagePadForOutpaint": [
        case("feathered", image=image(2, 5, 6), left=2, top=1, right=3, bottom=0, feathering=2),
        case("no feathering", image=image(1, 3, 4), left=0, top=2, right=1, bottom=1, feathering=0),
        case("feathering too wide", image=image(1, 3, 4), left=1, top=1, right=1, bottom=1, feathering=2),
        case("odd sizes", image=image(1, 7, 5, 4), left=1, top=0, right=0, bottom=3, feathering=3),
    ],
    "EmptyImage": [
        case("orange", width=3, height=2, batch_size=2, color=0xFF8000),
        case("1x1 grey", width=1, height=1, batch_size=1, color=0x7F7F7F),
    ],
    "ImageBlend": [case(mode, image1=image(2, 3, 4), image2=image(2, 3, 4), blend_factor=0.7, blend_mode=mode)
                   for mode in ["normal", "multiply", "screen", "overlay", "soft_light", "difference"]] + [
        case("resized bicubic", 4e-6, image1=image(1, 4, 5), image2=image(1, 7, 3), blend_factor=0.5, blend_mode="overlay"),
        case("batch broadcast", image1=image(2, 3, 3), image2=image(1, 3, 3), blend_factor=0.25, blend_mode="screen"),
        case("alpha fix", image1=image(1, 3, 3, 3), image2=image(1, 3, 3, 4), blend_factor=1.0, blend_mode="multiply"),
        case("batch mismatch", image1=image(2, 3, 3), image2=image(3, 3, 3), blend_factor=0.5, blend_mode="normal"),
    ],
    "ImageBlur": [
        case("radius 1", 1e-6, image=image(2, 5, 6), blur_radius=1, sigma=1.0),
        case("radius 3 sigma 0.5", 1e-6, image=image(1, 7, 8, 4), blur_radius=3, sigma=0.5),
        case("radius too large", image=image(1, 3, 8), blur_radius=3, sigma=1.0),
    ],
    "ImageSharpen": [
        case("radius 1", 1e-5, image=image(1, 5, 6), sharpen_radius=1, sigma=1.0, alpha=1.0),
        case("radius 2", 1e-5, image=image(2, 6, 5), sharpen_radius=2, sigma=2.0, alpha=0.3),
    ],
    "ImageCompositeMasked": [
        case("no mask", destination=image(1, 5, 6), source=image(1, 2, 3), x=1, y=2, resize_source=False),
        case("mask resized", 2e-6, destination=image(2, 5, 6), source=image(1, 3, 4), x=3, y=1, resize_source=False,
             mask=mask(1, 5, 7)),
        case("resize source", 2e-6, destination=image(1, 4, 5), source=image(1, 2, 2), x=0, y=0, resize_source=True,
             mask=mask(2, 4, 5)),
        case("clipped", destination=image(1, 4, 4), source=image(1, 3, 3), x=3, y=9, resize_source=False),
        case("rgba over rgb", destination=image(1, 3, 3), source=image(1, 2, 2, 4), x=1, y=1, resize_source=False),
        case("negative offset", destination=image(1, 4, 4), source=image(1, 6, 3), x=0, y=-2, resize_source=False),
        case("negative offset that fits", destination=image(1, 4, 4), source=image(1, 8, 3), x=0, y=-4,
             resize_source=False),
        case("negative offset, one column", destination=image(1, 4, 4), source=image(1, 2, 1), x=-1, y=1,
             resize_source=False),
    ],
    "PorterDuffImageComposite": [
        case(m, source=image(1, 3, 4), source_alpha=mask(1, 3, 4), destination=image(1, 3, 4),
             destination_alpha=mask(1, 3, 4), mode=m)
        for m in ["ADD", "CLEAR", "DARKEN", "DST", "DST_ATOP", "DST_IN", "DST_OUT", "DST_OVER", "LIGHTEN",
                  "MULTIPLY", "OVERLAY", "SCREEN", "SRC", "SRC_ATOP", "SRC_IN", "SRC_OUT", "SRC_OVER", "XOR"]] + [
        case("resized", 4e-6, source=image(2, 5, 3), source_alpha=mask(3, 2, 2), destination=image(2, 3, 4),
             destination_alpha=mask(2, 4, 4), mode="SRC_OVER"),
    ],
    "SplitImageWithAlpha": [
        case("rgba", image=image(2, 2, 3, 4)),
        case("rgb", image=image(1, 2, 2, 3)),
    ],
    "JoinImageWithAlpha": [
        case("resized mask", 2e-6, image=image(2, 3, 4), alpha=mask(1, 5, 5)),
        case("rgba image, batch of masks", image=image(1, 2, 2, 4), alpha=mask(3, 2, 2)),
    ],
    "ImageCrop": [
        case("inside", image=image(2, 5, 6), width=3, height=2, x=1, y=2),
        case("clipped", image=image(1, 4, 4), width=10, height=3, x=2, y=3),
        case("outside moved in", image=image(1, 3, 3), width=2, height=2, x=7, y=9),
    ],
    "RepeatImageBatch": [case("three times", image=image(2, 2, 2), amount=3)],
    "ImageFromBatch": [
        case("middle", image=image(4, 2, 2), batch_index=1, length=2),
        case("negative index", image=image(4, 2, 2), batch_index=-1, length=3),
        case("past the end", image=image(3, 1, 2), batch_index=7, length=1),
    ],
    "ImageAddNoise": [
        case("seed 0", 2e-6, image=image(1, 4, 5), seed=0, strength=0.5),
        case("largest seed", 2e-6, image=image(2, 3, 3), seed=0xFFFFFFFFFFFFFFFF, strength=0.3),
        case("fewer than 16 values", 2e-6, image=image(1, 2, 2), seed=12345, strength=1.0),
    ],
    "ImageStitch": [
        case("right matched", image1=image(1, 4, 5), direction="right", match_image_size=True, spacing_width=0,
             spacing_color="white", image2=image(1, 6, 3)),
        case("down matched spaced", image1=image(2, 4, 5), direction="down", match_image_size=True, spacing_width=2,
             spacing_color="red", image2=image(1, 3, 6)),
        case("left padded", image1=image(1, 3, 2), direction="left", match_image_size=False, spacing_width=1,
             spacing_color="black", image2=image(2, 6, 3)),
        case("up padded rgba", image1=image(1, 2, 5, 4), direction="up", match_image_size=False, spacing_width=2,
             spacing_color="blue", image2=image(1, 3, 2)),
        case("no image2", image1=image(1, 2, 2), direction="right", match_image_size=True, spacing_width=0,
             spacing_color="white"),
    ],
    "ResizeAndPadImage": [
        case("white lanczos", image=image(1, 5, 9), target_width=8, target_height=8, padding_color="white",
             interpolation="lanczos"),
        case("black area tall", image=image(2, 9, 4, 4), target_width=6, target_height=5, padding_color="black",
             interpolation="area"),
    ],
    "GetImageSize": [case("size", image=image(3, 2, 5))],
    "ImageRotate": [case(r, image=image(2, 2, 3), rotation=r) for r in ["none", "90 degrees", "180 degrees", "270 degrees"]],
    "ImageFlip": [case(f, image=image(1, 3, 2), flip_method=f) for f in ["x-axis: vertically", "y-axis: horizontally"]],
    "ImageScaleToMaxDimension": [
        case("tall", image=image(1, 8, 5), upscale_method="area", largest_size=4),
        case("wide", image=image(1, 5, 8), upscale_method="lanczos", largest_size=13),
        case("square", 4e-6, image=image(1, 3, 3), upscale_method="bicubic", largest_size=5),
    ],
    "SplitImageToTileList": [
        case("overlapping", image=image(1, 7, 9, 1), tile_width=4, tile_height=4, overlap=1),
        case("single tile", image=image(2, 3, 3), tile_width=8, tile_height=8, overlap=2),
    ],
}


def merge_cases():
    split = CASES["SplitImageToTileList"][0]["inputs"]["image"]
    return [
        case("sine weights", 1e-6, True, image_list=run_split(split, 4, 4, 1), final_width=[9], final_height=[7], overlap=[1]),
        case("flat weights", 0.0, True, image_list=run_split(split, 4, 4, 0), final_width=[9], final_height=[7], overlap=[0]),
    ]


def run_split(img, tw, th, overlap):
    return [t.clone() for t in run(CLASSES["SplitImageToTileList"], dict(image=img, tile_width=tw, tile_height=th,
                                                                          overlap=overlap))[0]]


def more_cases():
    CASES["ImageMergeTileList"] = merge_cases()
    CASES["Morphology"] = [case(op, image=image(1, 6, 7), operation=op, kernel_size=3)
                           for op in ["erode", "dilate", "open", "close", "gradient", "bottom_hat", "top_hat"]] + [
        case("even kernel", image=image(2, 5, 6, 4), operation="dilate", kernel_size=4),
        case("kernel larger than image", image=image(1, 3, 4), operation="erode", kernel_size=9),
    ]
    rgb = image(2, 3, 4)
    CASES["ImageRGBToYUV"] = [case("rgb", image=rgb), case("rgba", image=image(1, 2, 2, 4))]
    y, u, v = run(CLASSES["ImageRGBToYUV"], dict(image=rgb))
    CASES["ImageYUVToRGB"] = [case("round trip", Y=y.contiguous(), U=u.contiguous(), V=v.contiguous()),
                              case("channel means, clamped", Y=image(1, 2, 3), U=image(1, 2, 3), V=image(1, 2, 3, 1))]
    CASES["ImageQuantize"] = [case(d, image=image(2, 5, 7), colors=4, dither=d)
                              for d in ["none", "floyd-steinberg", "bayer-2", "bayer-4", "bayer-8", "bayer-16"]] + [
        case("one colour", image=image(1, 3, 4), colors=1, dither="floyd-steinberg"),
        case("1x1", image=image(1, 1, 1), colors=256, dither="none"),
        case("fewer colours than asked", image=(image(1, 6, 6) * 2).round() / 2, colors=16, dither="floyd-steinberg"),
        case("dark pixels map to the black filler", image=image(1, 4, 5, hi=0.1), colors=1, dither="none"),
        case("out of range wraps around", image=image(1, 3, 4, lo=-0.6, hi=1.6), colors=8, dither="none"),
        case("bayer, odd size", image=image(1, 7, 19), colors=6, dither="bayer-4"),
        case("rgba fails", image=image(1, 2, 2, 4), colors=4, dither="none"),
        case("one channel fails", image=image(1, 2, 2, 1), colors=4, dither="none"),
        case("too many colors", image=image(1, 2, 2), colors=257, dither="none"),
        case("66k colours, scale 1", digest=True, image=Pattern(1, 260, 260, 3), colors=256, dither="floyd-steinberg"),
        case("262k colours, scale 3", digest=True, image=Pattern(1, 512, 512, 3), colors=37, dither="none"),
        case("batch", digest=True, image=Pattern(2, 64, 96, 3), colors=100, dither="bayer-8"),
    ]
    CASES["ImageCropV2"] = [
        case("inside", image=image(2, 5, 6), crop_region={"x": 1, "y": 2, "width": 3, "height": 2}),
        case("clipped", image=image(1, 4, 4), crop_region={"x": 2, "y": 3, "width": 10, "height": 3}),
        case("outside moved in", image=image(1, 3, 3), crop_region={"x": 7, "y": 9, "width": 2, "height": 2}),
        case("missing keys, rgba", image=image(1, 3, 4, 4, lo=-0.2, hi=1.2), crop_region={"y": 1}),
        case("float fails", image=image(1, 3, 3), crop_region={"x": 1.0, "y": 0, "width": 2, "height": 2}),
    ]
    CASES["PrimitiveBoundingBox"] = [case("box", x=1, y=2, width=3, height=4)]
    CASES["MaskPreview"] = [case("batch of two", mask=mask(2, 3, 4)),
                            case("out of range", mask=image(1, 2, 3, 1, lo=-0.5, hi=1.5)[..., 0])]
    CASES["ImageCompare"] = [case("both", image_a=image(2, 2, 3), image_b=image(1, 3, 2, 4)),
                             case("only b", image_b=image(1, 2, 2)),
                             case("neither")]
    CASES["RebatchImages"] = [
        case("split and joined", 0.0, True, images=[image(3, 2, 2), image(2, 2, 2)], batch_size=[2]),
        case("first batch_size counts", 0.0, True, images=[image(2, 1, 3, 4)], batch_size=[1, 5]),
        case("fewer than batch_size", 0.0, True, images=[image(1, 2, 2), image(2, 2, 2)], batch_size=[8]),
        case("sizes apart", 0.0, True, images=[image(1, 2, 2), image(1, 3, 2)], batch_size=[1]),
        case("sizes together fail", 0.0, True, images=[image(1, 2, 2), image(1, 3, 2)], batch_size=[2]),
    ]
    # Cases added later go last: image() seeds count up.
    CASES["BatchImagesNode"] = [
        case("same size", **{"images.image0": image(1, 2, 3), "images.image1": image(2, 2, 3)}),
        case("one image", **{"images.image0": image(2, 3, 2, 4)}),
        case("gap in names", **{"images.image0": image(1, 2, 2), "images.image3": image(1, 2, 2)}),
        case("alpha and resize", 2e-6, **{"images.image0": image(1, 4, 5), "images.image1": image(1, 3, 3, 4),
                                          "images.image2": image(2, 6, 4)}),
        case("channel gap fails", **{"images.image0": image(1, 2, 2, 1), "images.image1": image(1, 2, 2)}),
    ]
    CASES["BatchMasksNode"] = [
        case("same size", **{"masks.mask0": mask(1, 2, 3), "masks.mask1": mask(2, 2, 3)}),
        case("resized", 2e-6, **{"masks.mask0": mask(1, 4, 5), "masks.mask2": mask(2, 3, 3), "masks.mask7": mask(1, 6, 4)}),
    ]

    def resize(name, inp, method, kind, tol=0.0, **opts):
        return case(name, tol, input=inp, scale_method=method, resize_type=kind,
                    **{"resize_type." + k: v for k, v in opts.items()})
    CASES["ResizeImageMaskNode"] = [
        resize("dimensions, center crop", image(2, 5, 7), "area", "scale dimensions", width=4, height=4, crop="center"),
        resize("dimensions, stretched mask", mask(1, 4, 6), "nearest-exact", "scale dimensions", width=9, height=3,
               crop="disabled"),
        resize("width 0 keeps aspect", image(1, 6, 4), "lanczos", "scale dimensions", width=0, height=9, crop="disabled"),
        resize("both 0 unchanged", mask(1, 3, 2), "area", "scale dimensions", width=0, height=0, crop="center"),
        resize("multiplier", image(1, 5, 3, 4), "bilinear", "scale by multiplier", 2e-6, multiplier=1.5),
        resize("multiplier, half to even", mask(2, 5, 3), "nearest-exact", "scale by multiplier", multiplier=0.5),
        resize("longer, tall", image(1, 8, 5), "area", "scale longer dimension", longer_size=5),
        resize("longer, wide mask", mask(1, 3, 7), "bicubic", "scale longer dimension", 2e-6, longer_size=4),
        resize("longer, square", image(1, 3, 3), "nearest-exact", "scale longer dimension", longer_size=5),
        resize("shorter, wide", image(1, 4, 6), "area", "scale shorter dimension", shorter_size=3),
        resize("shorter, tall mask", mask(1, 7, 3), "lanczos", "scale shorter dimension", shorter_size=5),
        resize("width", image(1, 4, 6), "area", "scale width", width=3),
        resize("height, mask", mask(1, 4, 6), "nearest-exact", "scale height", height=10),
        resize("total pixels", image(1, 30, 20), "area", "scale total pixels", megapixels=0.0005),
        resize("match image", mask(1, 3, 5), "area", "match size", match=image(2, 6, 4), crop="center"),
        resize("match mask", image(1, 5, 5), "lanczos", "match size", match=mask(1, 2, 7), crop="disabled"),
        resize("multiple, crop rows", image(1, 20, 13), "area", "scale to multiple", multiple=8),
        resize("multiple, crop columns, mask", mask(1, 9, 30), "nearest-exact", "scale to multiple", multiple=4),
        resize("multiple already fits", image(1, 8, 16), "area", "scale to multiple", multiple=8),
        resize("multiple larger than image", image(1, 3, 5), "area", "scale to multiple", multiple=8),
        resize("multiple 1", mask(1, 3, 5), "area", "scale to multiple", multiple=1),
        resize("zero height fails", image(1, 0, 4), "area", "scale width", width=3),
    ]

    shapes = torch.zeros(1, 12, 14, 3)
    shapes[:, 3:9, 2:7] = torch.tensor([0.9, 0.2, 0.1])
    yy, xx = torch.meshgrid(torch.arange(12.0), torch.arange(14.0), indexing="ij")
    shapes[0, (yy - 6) ** 2 + (xx - 10) ** 2 < 9] = torch.tensor([0.1, 0.5, 0.95])
    CASES["Canny"] = [
        case("defaults, batch of two", image=image(2, 8, 9), low_threshold=0.4, high_threshold=0.8),
        case("low thresholds, hysteresis", image=image(1, 12, 10), low_threshold=0.05, high_threshold=0.15),
        case("shapes with noise", image=shapes + image(1, 12, 14) * 0.05, low_threshold=0.1, high_threshold=0.3),
        case("one channel, odd size", image=image(1, 7, 5, 1), low_threshold=0.02, high_threshold=0.1),
        case("3x3", image=image(1, 3, 3), low_threshold=0.01, high_threshold=0.05),
        case("equal thresholds", image=image(1, 6, 6), low_threshold=0.1, high_threshold=0.1),
        case("low above high fails", image=image(1, 6, 6), low_threshold=0.5, high_threshold=0.4),
        case("too narrow fails", image=image(1, 5, 2), low_threshold=0.4, high_threshold=0.8),
        case("too short fails", image=image(1, 2, 5), low_threshold=0.4, high_threshold=0.8),
        case("rgba fails", image=image(1, 5, 5, 4), low_threshold=0.4, high_threshold=0.8),
    ]

    def transfer(name, tol, target, ref, method, stats, strength=1.0, **opts):
        return case(name, tol, image_target=target, image_ref=ref, method=method, source_stats=stats,
                    strength=strength, **{"source_stats." + k: v for k, v in opts.items()})
    CASES["ColorTransfer"] = [
        transfer("reinhard, one reference", 5e-6, image(2, 4, 5), image(1, 3, 3, lo=0.2, hi=0.6), "reinhard_lab", "per_frame"),
        transfer("reinhard, reference per frame", 5e-6, image(3, 3, 4), image(2, 5, 2), "reinhard_lab", "per_frame"),
        transfer("reinhard uniform, half strength", 5e-6, image(2, 3, 3), image(2, 4, 4, hi=0.5), "reinhard_lab", "uniform", 0.5),
        transfer("reinhard target frame clamped", 5e-6, image(2, 3, 3), image(1, 3, 3), "reinhard_lab", "target_frame", 1.0,
                 target_index=5),
        transfer("mkl, one reference", 1e-5, image(2, 4, 5), image(1, 3, 3, lo=0.1, hi=0.7), "mkl_lab", "per_frame"),
        transfer("mkl, reference per frame", 1e-5, image(2, 3, 4), image(3, 4, 4), "mkl_lab", "per_frame"),
        transfer("mkl uniform", 1e-5, image(3, 3, 3), image(2, 3, 3, lo=0.3), "mkl_lab", "uniform"),
        transfer("mkl target frame, strength 1.5", 1e-5, image(2, 4, 3), image(1, 5, 5), "mkl_lab", "target_frame", 1.5,
                 target_index=1),
        transfer("histogram, per frame", 0.0, image(2, 6, 5), image(1, 4, 4, hi=0.5), "histogram", "per_frame"),
        transfer("histogram uniform, strength 0.3", 0.0, image(2, 4, 4), image(3, 3, 3), "histogram", "uniform", 0.3),
        transfer("histogram target frame, rgba", 0.0, image(2, 3, 3, 4), image(1, 4, 4, 4, lo=0.4), "histogram",
                 "target_frame", 2.0, target_index=0),
        transfer("histogram out of range", 0.0, image(1, 3, 4, lo=-0.3, hi=1.3), image(1, 3, 3), "histogram", "per_frame"),
        transfer("strength 0 passes through", 0.0, image(1, 2, 2, 4), image(1, 2, 2), "mkl_lab", "per_frame", 0.0),
        transfer("rgba fails in Lab", 0.0, image(1, 2, 2, 4), image(1, 2, 2), "reinhard_lab", "uniform"),
    ]
    CASES["CenterCropImages"] = [
        case("odd margins", images=image(1, 7, 8, lo=-0.1, hi=1.1), width=3, height=4),
        case("larger than the image", images=image(1, 3, 5), width=8, height=2),
        case("rgba", images=image(1, 4, 4, 4), width=2, height=2),
        case("two channels", images=image(1, 3, 3, 2), width=1, height=1),
        case("one channel fails", images=image(1, 3, 3, 1), width=2, height=2),
        case("batch fails", images=image(2, 3, 3), width=2, height=2),
    ]
    CASES["NormalizeImages"] = [case("batch", images=image(2, 3, 4), mean=0.3, std=0.2),
                                case("rgba, small std", images=image(1, 2, 2, 4), mean=0.5, std=0.001)]
    CASES["AdjustBrightness"] = [case("brighter", images=image(2, 3, 4), factor=1.7),
                                 case("out of range", images=image(1, 2, 3, 1, lo=-0.5, hi=1.5), factor=0.6)]
    CASES["AdjustContrast"] = [case("more", images=image(2, 3, 4), factor=1.9),
                               case("none, rgba", images=image(1, 2, 2, 4, lo=-0.2, hi=1.2), factor=0.0)]
    CASES["ResizeImagesByShorterEdge"] = [
        case("wide", images=image(1, 4, 7), shorter_edge=6),
        case("tall rgba", images=image(1, 9, 5, 4), shorter_edge=3),
        case("batch fails", images=image(2, 4, 4), shorter_edge=2),
    ]
    CASES["ResizeImagesByLongerEdge"] = [
        case("batch, wide", images=image(2, 5, 8), longer_edge=11),
        case("square, two channels", images=image(1, 4, 4, 2), longer_edge=3),
        case("zero height", images=image(1, 2, 9), longer_edge=4),
    ]
    CASES["RandomCropImages"] = [
        case("seed 0", images=image(1, 9, 11), width=4, height=5, seed=0),
        case("large seed, rgba", images=image(1, 20, 6, 4, lo=-0.1, hi=1.1), width=6, height=3, seed=2**64 - 1),
        case("seed 2**32-1 wraps to 0", images=image(1, 9, 11), width=4, height=5, seed=2**32 - 1),
        case("larger than the image", images=image(1, 3, 4), width=9, height=2, seed=7),
    ]
    shuffle_in = [image(2, 2, 2), image(3, 2, 2), image(1, 3, 2)]
    CASES["ShuffleDataset"] = [
        case("six frames", 0.0, True, images=shuffle_in, seed=[12345]),
        case("one frame", 0.0, True, images=[image(1, 2, 2)], seed=[3]),
    ]
    base = image(1, 16, 16)
    CASES["ImageDeduplication"] = [
        case("near copies dropped", 0.0, True,
             images=[base, (base + 0.01).clamp(0, 1), image(1, 16, 16), torch.cat([base.flip(2), base])],
             similarity_threshold=[0.95]),
        case("threshold 0 keeps the first", 0.0, True, images=[image(2, 5, 6, 4), image(1, 3, 3)],
             similarity_threshold=[0.0]),
        case("two channels", 0.0, True, images=[image(2, 9, 7, 2)], similarity_threshold=[1.0]),
    ]
    CASES["ImageGrid"] = [
        case("five in two columns", 0.0, True, images=[image(2, 40, 35), image(3, 33, 50, 4)], columns=[2],
             cell_width=[32], cell_height=[34], padding=[3]),
        case("one image, la", 0.0, True, images=[image(1, 30, 31, 2)], columns=[4], cell_width=[33], cell_height=[32],
             padding=[0]),
        case("one channel fails", 0.0, True, images=[image(1, 4, 4, 1)], columns=[1], cell_width=[32],
             cell_height=[32], padding=[0]),
    ]
    CASES["MergeImageLists"] = [case("flattened", 0.0, True, images=[image(2, 2, 3), image(1, 3, 3, 4)])]
    CASES["ImageHistogram"] = [
        case("first of a batch", image=image(2, 9, 11, lo=-0.2, hi=1.2)),
        case("rgba", image=image(1, 3, 4, 4)),
        case("one channel fails", image=image(1, 2, 2, 1)),
    ]
    def box(x, y, w, h):
        return {"x": x, "y": y, "width": w, "height": h}
    CASES["CropByBBoxes"] = [
        case("one box, stretched", digest=True, image=image(1, 70, 80), bboxes=box(10, 5, 30, 50), output_width=64,
             output_height=72, padding=0, keep_aspect="stretch"),
        case("per frame, padded, letterboxed", digest=True, image=image(3, 60, 50, 4),
             bboxes=[[box(5, 6, 10, 20), box(30, 2, 5.5, 7.9)], [], [box(-5, 40, 20, 30)]], output_width=64,
             output_height=80, padding=3, keep_aspect="pad"),
        case("last list serves the rest, fallback", digest=True, image=image(2, 40, 30),
             bboxes=[[box(100, 100, 10, 10)]], output_width=64, output_height=64, padding=0, keep_aspect="stretch"),
        case("no boxes anywhere", image=image(2, 3, 4), bboxes=[[], []], output_width=64, output_height=64, padding=0,
             keep_aspect="pad"),
        case("empty list", image=image(1, 3, 4), bboxes=[], output_width=64, output_height=64, padding=0,
             keep_aspect="pad"),
        case("fallback too small: black", digest=True, image=image(1, 3, 2), bboxes=[[box(9, 9, 1, 1)]], output_width=64,
             output_height=64, padding=0, keep_aspect="stretch"),
    ]
    CASES["FluxKontextImageScale"] = [
        case("wide", digest=True, image=image(1, 5, 7)),
        case("square batch, rgba", digest=True, image=image(2, 4, 4, 4)),
        case("very tall", digest=True, image=image(1, 9, 2)),
    ]


def golden(here, cls, name, cases):
    out = []
    for c in cases:
        entry = {"name": c["name"], "tol": c["tol"],
                 "inputs": {k: ({"LIST": [wrap(x) for x in v]} if c["list"] else wrap(v)) for k, v in c["inputs"].items()}}
        try:
            outputs, ui = execute(cls, {k: v.t if isinstance(v, Tensor) else v for k, v in c["inputs"].items()})
            entry["outputs"] = [Digest(o.kind, o.t) if c["digest"] else o for o in map(wrap, outputs)]
            if ui is not None:
                entry["ui"] = ui
        except Exception as e:  # the node fails in ComfyUI: it must fail in Go
            entry["error"] = f"{type(e).__name__}: {e}"
        out.append(entry)
    with open(os.path.join(here, "golden", name + ".json"), "w") as f:
        f.write(dumps({"cases": out}).replace("}, {\"name\"", "},\n{\"name\"") + "\n")


def write(here, classes, display, v1, cases):
    """Writes the object_info of classes and the goldens of cases under here."""
    os.makedirs(os.path.join(here, "object_info"), exist_ok=True)
    os.makedirs(os.path.join(here, "golden"), exist_ok=True)
    for cls_name, cls in classes.items():
        info = v1_info(cls_name, cls, display) if cls_name in v1 else cls.GET_NODE_INFO_V1()
        with open(os.path.join(here, "object_info", cls_name + ".json"), "w") as f:
            f.write(json.dumps(info) + "\n")
    for cls_name, cls_cases in cases.items():
        golden(here, classes[cls_name], cls_name, cls_cases)


if __name__ == "__main__":
    CLASSES, DISPLAY = setup()
    more_cases()
    write(HERE, CLASSES, DISPLAY, V1, CASES)
