"""Synthetic segmentation canvases built from Fashion-MNIST items (shared by training and sample generation).

Each canvas: SIZE x SIZE grey uint8, 1..MAX_ITEMS items pasted at random positions and scales (later items on top);
label per pixel = 0 (background) or 1 + Fashion-MNIST class where the pasted item's intensity > FG_THRESHOLD.
"""
import numpy as np
import torch
import torch.nn.functional as F

SIZE = 64
FG_THRESHOLD = 40
MAX_ITEMS = 3
MIN_ITEM, MAX_ITEM = 26, 46


def _resize(item_u8, size):
    t = torch.from_numpy(np.array(item_u8)).float()[None, None]
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return t[0, 0].round().clamp(0, 255).numpy().astype(np.uint8)


def make(n, items, labels, seed, size=SIZE):
    """-> (images uint8 [n,size,size], masks uint8 [n,size,size])."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, size, size), np.uint8)
    masks = np.zeros((n, size, size), np.uint8)
    for k in range(n):
        for _ in range(int(rng.integers(1, MAX_ITEMS + 1))):
            j = int(rng.integers(len(items)))
            s = int(rng.integers(MIN_ITEM, MAX_ITEM + 1))
            it = _resize(items[j], s)
            if rng.random() < 0.5:
                it = it[:, ::-1]
            y0 = int(rng.integers(-s // 4, size - 3 * s // 4))
            x0 = int(rng.integers(-s // 4, size - 3 * s // 4))
            ys, xs = max(0, y0), max(0, x0)
            ye, xe = min(size, y0 + s), min(size, x0 + s)
            patch = it[ys - y0:ye - y0, xs - x0:xe - x0]
            fg = patch > FG_THRESHOLD
            imgs[k, ys:ye, xs:xe] = np.where(fg, patch, imgs[k, ys:ye, xs:xe])
            masks[k, ys:ye, xs:xe] = np.where(fg, labels[j] + 1, masks[k, ys:ye, xs:xe])
    return imgs, masks
