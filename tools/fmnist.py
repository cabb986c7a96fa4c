"""Fashion-MNIST loading (Debian package dataset-fashion-mnist) shared by the training/reference tools."""
import gzip
import os

import numpy as np

FMNIST_DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
          "Ankle boot"]


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    """split 'train' or 'test' -> (images uint8 [N,28,28], labels int64 [N])."""
    prefix = "train" if split == "train" else "t10k"
    x = _read_idx(os.path.join(FMNIST_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    y = _read_idx(os.path.join(FMNIST_DIR, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
    return x, y
