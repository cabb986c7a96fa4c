"""Reference preprocessing, exactly as docs/MODELS_SPEC (the C examples must match it). All math in float32.

Classifier: channels -> /255 -> resize shorter side to S = floor(img_size / crop_pct) (long side
floor(long * S / short + 0.5)), bilinear align_corners=False, no antialias -> center crop at floor((dim-img)/2)
-> (x - mean[c]) / std[c].
Segmenter: channels -> /255 -> resize to image_size (skip if equal) -> normalise.
Grey from RGB: (0.299f*R + 0.587f*G) + 0.114f*B in float32 on the 0..255 values, before the /255.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def load_image(path):
    """-> uint8 array HxWxC with C in {1, 3} (alpha dropped)."""
    im = Image.open(path)
    if im.mode in ("L", "P", "I;16", "I", "1"):
        im = im.convert("L") if im.mode != "P" else im.convert("RGB")
    if im.mode == "LA":
        im = im.convert("L")
    if im.mode in ("RGBA", "CMYK", "YCbCr"):
        im = im.convert("RGB")
    a = np.asarray(im, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a[:, :, :3]


def channels(img_u8, in_chans):
    """uint8 HxWxC -> float32 [C', H, W] in 0..1."""
    v = img_u8.astype(np.float32)
    c = v.shape[2]
    if in_chans == 1 and c >= 3:
        g = (np.float32(0.299) * v[:, :, 0] + np.float32(0.587) * v[:, :, 1]) + np.float32(0.114) * v[:, :, 2]
        v = g[:, :, None].astype(np.float32)
    elif in_chans == 3 and c == 1:
        v = np.repeat(v, 3, axis=2)
    elif in_chans != c:
        raise ValueError(f"cannot map {c} image channels to {in_chans} model channels")
    v = v / np.float32(255.0)
    return np.ascontiguousarray(v.transpose(2, 0, 1)).astype(np.float32)


def _resize(x_chw, h, w):
    if x_chw.shape[1] == h and x_chw.shape[2] == w:
        return x_chw
    t = torch.from_numpy(x_chw)[None]
    return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0].numpy()


def _normalize(x_chw, mean, std):
    mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)
    std = np.asarray(std, np.float32).reshape(-1, 1, 1)
    if mean.shape[0] == 1 and x_chw.shape[0] > 1:
        mean = np.repeat(mean, x_chw.shape[0], 0)
        std = np.repeat(std, x_chw.shape[0], 0)
    return ((x_chw - mean) / std).astype(np.float32)


def classifier_input(img_u8, cfg):
    x = channels(img_u8, cfg.get("in_chans", 3))
    img = cfg["img_size"]
    crop_pct = cfg.get("crop_pct", 1.0) or 1.0
    s = int(math.floor(img / crop_pct))
    h, w = x.shape[1], x.shape[2]
    if h <= w:
        nh, nw = s, int(math.floor(w * s / h + 0.5))
    else:
        nh, nw = int(math.floor(h * s / w + 0.5)), s
    x = _resize(x, nh, nw)
    y0, x0 = (nh - img) // 2, (nw - img) // 2
    x = x[:, y0:y0 + img, x0:x0 + img]
    return _normalize(x, cfg["mean"], cfg["std"])[None]


def segmenter_input(img_u8, cfg):
    x = channels(img_u8, cfg.get("num_channels", 3))
    h, w = cfg["image_size"] if isinstance(cfg["image_size"], (list, tuple)) else (cfg["image_size"],) * 2
    x = _resize(x, h, w)
    return _normalize(x, cfg["mean"], cfg["std"])[None]
