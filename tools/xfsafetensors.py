"""Minimal safetensors reader/writer (numpy only; no dependency on the `safetensors` package).

Format: 8-byte little-endian header length N, N bytes of JSON header
{"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}},
then the raw little-endian tensor bytes (offsets relative to the end of the header).
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def _to_numpy(t):
    if hasattr(t, "detach"):
        t = t.detach().cpu().contiguous().numpy()
    return np.ascontiguousarray(t)


def save(path, tensors, metadata=None):
    """Write `tensors` (dict name -> numpy array or torch tensor) in insertion order.

    `metadata` values must be strings (dicts/lists are JSON-encoded for convenience)."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        a = _to_numpy(t)
        key = _NAMES.get(a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype)
        if key is None:
            raise ValueError(f"{name}: unsupported dtype {a.dtype}")
        raw = a.astype(_DTYPES[key], copy=False).tobytes(order="C")
        header[name] = {"dtype": key, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)


def load(path):
    """Return (tensors: dict name -> numpy array, metadata: dict str -> str)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} exceeds the file size")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        dt = _DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64)) if info["shape"] else 1
        if e - b != count * dt.itemsize or base + e > len(data):
            raise ValueError(f"{path}: tensor {name} has inconsistent data_offsets")
        out[name] = np.frombuffer(data, dtype=dt, count=count, offset=base + b).reshape(info["shape"]).copy()
    return out, meta


def load_config(path):
    """The JSON config stored in __metadata__["config"] (or None)."""
    _, meta = load(path)
    return json.loads(meta["config"]) if "config" in meta else None


if __name__ == "__main__":
    import sys
    for p in sys.argv[1:]:
        ts, md = load(p)
        print(p)
        for k, v in md.items():
            print(f"  meta {k}: {v[:200]}{'...' if len(v) > 200 else ''}")
        for k, v in ts.items():
            print(f"  {k:60s} {str(v.dtype):8s} {list(v.shape)}")
