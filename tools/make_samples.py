"""Write the sample inputs in examples/images/ (deterministic; Fashion-MNIST test split only).

- <class>.png: the first test item of six classes, 28x28 grey.
- coat_rgb_96x80.png: a test item upscaled to 96x80 (W x H) and tinted, RGB: exercises resize + crop + RGB->grey.
- seg_canvas1.png, seg_canvas2.png: 64x64 grey synthetic segmentation canvases with items of two or more classes
  (held-out generator, test items);
  seg_canvas3_rgb_96.png: a 96x96 RGB upscaled canvas (exercises the segmenter's resize + RGB->grey).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
import segsynth  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "examples", "images")
ITEMS = {"sneaker": 7, "ankle_boot": 9, "trouser": 1, "bag": 8, "pullover": 2, "dress": 3}


def upscale(img_u8, h, w):
    t = torch.from_numpy(np.array(img_u8)).float()[None, None]
    t = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)
    return t[0, 0].round().clamp(0, 255).numpy()


def tint(grey, rgb):
    return np.clip(np.round(np.stack([grey * c for c in rgb], -1)), 0, 255).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    x, y = fmnist.load("test")
    for name, cls in ITEMS.items():
        i = int(np.nonzero(y == cls)[0][0])
        Image.fromarray(x[i], mode="L").save(os.path.join(OUT, f"{name}.png"), optimize=True)
        print(f"{name}.png: test index {i}, class {fmnist.LABELS[cls]}")
    i = int(np.nonzero(y == 4)[0][0])
    big = upscale(x[i], 80, 96)
    Image.fromarray(tint(big, (1.0, 0.75, 0.45)), mode="RGB").save(os.path.join(OUT, "coat_rgb_96x80.png"),
                                                                  optimize=True)
    print(f"coat_rgb_96x80.png: test index {i} upscaled to 96x80, tinted RGB")

    # The first canvases of the stream that hold items of at least two classes: a more telling sample.
    imgs, masks = segsynth.make(40, x, y, seed=12345)
    keep = [k for k in range(len(imgs)) if len(np.unique(masks[k])) >= 3][:3]
    imgs, masks = imgs[keep], masks[keep]
    Image.fromarray(imgs[0], mode="L").save(os.path.join(OUT, "seg_canvas1.png"), optimize=True)
    Image.fromarray(imgs[1], mode="L").save(os.path.join(OUT, "seg_canvas2.png"), optimize=True)
    big = upscale(imgs[2], 96, 96)
    Image.fromarray(tint(big, (0.6, 1.0, 0.8)), mode="RGB").save(os.path.join(OUT, "seg_canvas3_rgb_96.png"),
                                                                optimize=True)
    for k in range(3):
        print(f"seg_canvas{k + 1}: classes present {sorted(set(masks[k].reshape(-1).tolist()))}")


if __name__ == "__main__":
    main()
