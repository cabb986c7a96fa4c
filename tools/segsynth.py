"""Synthetic segmentation canvases built from Fashion-MNIST items (shared by training and sample generation).

Each canvas: SIZE x SIZE grey uint8 with 1..MAX_ITEMS items at random positions and scales, each wholly inside the
canvas and not touching another item's foreground (an item that finds no free place in PLACE_TRIES is left out);
label per pixel = 0 (background) or 1 + Fashion-MNIST class where the pasted item's intensity > FG_THRESHOLD.
"""
import numpy as np
import torch
import torch.nn.functional as F

SIZE = 64
FG_THRESHOLD = 40
MAX_ITEMS = 3
MIN_ITEM, MAX_ITEM = 24, 40
PLACE_TRIES = 20


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
            fg = it > FG_THRESHOLD
            # one pixel of margin so that neighbouring items never share a boundary
            halo = fg.copy()
            halo[1:] |= fg[:-1]
            halo[:-1] |= fg[1:]
            halo[:, 1:] |= halo[:, :-1].copy()
            halo[:, :-1] |= halo[:, 1:].copy()
            for _ in range(PLACE_TRIES):
                y0 = int(rng.integers(0, size - s + 1))
                x0 = int(rng.integers(0, size - s + 1))
                if not (masks[k, y0:y0 + s, x0:x0 + s].astype(bool) & halo).any():
                    imgs[k, y0:y0 + s, x0:x0 + s] = np.where(fg, it, imgs[k, y0:y0 + s, x0:x0 + s])
                    masks[k, y0:y0 + s, x0:x0 + s] = np.where(fg, labels[j] + 1, masks[k, y0:y0 + s, x0:x0 + s])
                    break
    return imgs, masks


def write_idx(path, array_u8):
    """Gzip'd IDX file of unsigned bytes (the Fashion-MNIST format), read by examples/xformer-accuracy."""
    import gzip
    import struct
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array_u8.ndim))
        f.write(struct.pack(">" + "I" * array_u8.ndim, *array_u8.shape))
        f.write(np.ascontiguousarray(array_u8, np.uint8).tobytes())


if __name__ == "__main__":
    import argparse
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fmnist
    ap = argparse.ArgumentParser(description="Writes the held-out canvases (the training script's evaluation set: "
                                             "test-split items, seed 2) as DIR/canvases-{images,masks}-idx3-ubyte.gz")
    ap.add_argument("dir")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    x, y = fmnist.load("test")
    imgs, masks = make(args.count, x, y, seed=args.seed)
    os.makedirs(args.dir, exist_ok=True)
    write_idx(os.path.join(args.dir, "canvases-images-idx3-ubyte.gz"), imgs)
    write_idx(os.path.join(args.dir, "canvases-masks-idx3-ubyte.gz"), masks)
    print(f"wrote {args.count} canvases of {SIZE}x{SIZE} to {args.dir}")
