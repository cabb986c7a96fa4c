#!/usr/bin/env python3
"""Quantize the linear-layer weights of a model file for libxformer.

    python3 tools/quantize.py MODEL OUT --format int8-channel|int8-block32|f16

MODEL is a safetensors file (a libxformer model, or a timm / Hugging Face checkpoint) or a directory
holding model.safetensors; OUT is the file to write (for a directory: the directory, made if needed,
with model.safetensors and the directory's other files copied). The linear weights are the 2-D float
tensors named *.weight (the [out, in] matrices of attention, MLP and heads), as the loader takes them;
every other tensor and the metadata are copied unchanged.

Formats (docs/MODELS.md):
  int8-channel  W.weight I8 [out, in] + W.weight_scale F32 [out]: one scale per output channel
  int8-block32  W.weight I8 [out, in] + W.weight_scale F16 [out, ceil(in / 32)]: one per 32 inputs,
                the arithmetic of ggml's Q8_0 with the scales kept apart from the int8 values
  f16           W.weight F16

Symmetric: scale = max |w| / 127 over the group (rounded to the scale's type), q = round(w / scale)
clipped to [-127, 127], so w ~ q * scale. The same arithmetic as xf_model_options_t.weights =
XF_MODEL_WEIGHTS_INT8_*, so a file written here loads to the same device weights as the float file
quantized at load. Needs only numpy.

Exit status: 0 success, 1 a failure (unreadable model, nothing to quantize), 2 a usage error.
"""
import argparse
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xfsafetensors  # noqa: E402

VERSION = "1.0"
BLOCK = 32
FORMATS = ("int8-channel", "int8-block32", "f16")


def is_linear_weight(name, a):
    return a.ndim == 2 and name.endswith(".weight") and a.dtype.kind == "f"


def quantize_int8(w, block, scale_dtype):
    """(q int8 [n, k], scales [n, groups] or [n]) with xf_quantize_int8's arithmetic (lib/dtype.c)."""
    w = np.asarray(w, dtype=np.float32)
    n, k = w.shape
    group = block or k
    groups = -(-k // group)
    padded = np.zeros((n, groups * group), dtype=np.float32)
    padded[:, :k] = w
    g = padded.reshape(n, groups, group)
    scale = (np.abs(g).max(axis=2) / np.float32(127.0)).astype(np.float32)
    scale = scale.astype(scale_dtype).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1.0))[:, :, None]
    q = np.where(scale[:, :, None] > 0, g / safe, np.float32(0.0)).astype(np.float32)
    q = np.clip(q, -127.0, 127.0)
    q = np.rint(q).astype(np.int8).reshape(n, groups * group)[:, :k]
    scale = scale.astype(scale_dtype)
    return np.ascontiguousarray(q), scale if block else scale.reshape(n)


def quantize_tensors(tensors, fmt):
    out = {}
    count = 0
    for name, a in tensors.items():
        if name.endswith(".weight_scale") and name[: -len("_scale")] in tensors:
            raise ValueError(f"'{name[:-len('_scale')]}' is quantized already")
        if not is_linear_weight(name, a):
            out[name] = a
            continue
        count += 1
        if fmt == "f16":
            out[name] = a.astype(np.float16)
            continue
        block, scale_dtype = (0, np.float32) if fmt == "int8-channel" else (BLOCK, np.float16)
        out[name], out[name + "_scale"] = quantize_int8(a, block, scale_dtype)
    if not count:
        raise ValueError("no linear weights (2-D float tensors named *.weight) to quantize")
    return out, count


def main(argv=None):
    ap = argparse.ArgumentParser(prog="quantize.py", description=__doc__.split("\n")[0],
                                 epilog="See the module docstring (head of tools/quantize.py) for the formats.")
    ap.add_argument("model", help="safetensors file, or a directory with model.safetensors")
    ap.add_argument("out", help="file (or directory) to write")
    ap.add_argument("--format", required=True, choices=FORMATS)
    ap.add_argument("-V", "--version", action="version", version=f"%(prog)s {VERSION}")
    args = ap.parse_args(argv)
    src, dst = args.model, args.out
    if os.path.isdir(src):
        if os.path.exists(dst) and not os.path.isdir(dst):
            ap.error(f"{src} is a directory, so OUT must be one too")
        os.makedirs(dst, exist_ok=True)
        for f in os.listdir(src):
            if f != "model.safetensors" and os.path.isfile(os.path.join(src, f)):
                shutil.copy2(os.path.join(src, f), os.path.join(dst, f))
        src, dst = os.path.join(src, "model.safetensors"), os.path.join(dst, "model.safetensors")
    try:
        tensors, meta = xfsafetensors.load(src)
        out, count = quantize_tensors(tensors, args.format)
        xfsafetensors.save(dst, out, meta)
    except (OSError, ValueError, KeyError) as e:
        print(f"quantize.py: {src}: {e}", file=sys.stderr)
        return 1
    before = sum(a.nbytes for a in tensors.values())
    after = sum(a.nbytes for a in out.values())
    print(f"{dst}: {count} linear weights as {args.format}; {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
