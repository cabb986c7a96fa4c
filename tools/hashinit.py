"""Deterministic "hash init" of tensors (docs/MODELS_SPEC: same values in Python and in libxformer's C loader).

For tensor NAME, element i (row-major):
  seed = FNV-1a 64(NAME); z = seed + (i+1)*0x9E3779B97F4A7C15; splitmix64 finaliser; u = (z >> 11) * 2^-53; r = 2u-1
  value = float32(rule(NAME, shape, u, r)) computed in double.

Run `python3 tools/hashinit.py` for the check values recorded in docs/TRAINING.md.
"""
import numpy as np

_M64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def fnv1a64(name):
    h = 0xcbf29ce484222325
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001b3) & _M64
    return h


def uniform(name, n):
    """u in [0,1) as float64, n values."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(fnv1a64(name)) + i * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _C1
        z = (z ^ (z >> np.uint64(27))) * _C2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


def tensor(name, shape):
    """float32 numpy array of the given shape, or None for num_batches_tracked (skipped)."""
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if name.endswith("num_batches_tracked"):
        return None
    u = uniform(name, n)
    r = 2.0 * u - 1.0
    if name.endswith("running_var"):
        v = 1.0 + 0.5 * u
    elif name.endswith("running_mean"):
        v = 0.1 * r
    elif len(shape) == 1 and name.endswith(".weight"):
        v = 1.0 + 0.1 * r
    elif name.endswith(".bias"):
        v = 0.05 * r
    elif len(shape) >= 2 and name.endswith(".weight"):
        fan_in = int(np.prod(shape[1:], dtype=np.int64))
        v = r * np.sqrt(3.0 / fan_in)
    else:
        v = 0.5 * r
    return v.astype(np.float32).reshape(shape)


def input_tensor(shape, name="input"):
    """Test input: value = r (float32)."""
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape, dtype=np.int64))
    return (2.0 * uniform(name, n) - 1.0).astype(np.float32).reshape(shape)


def init_module(module):
    """Overwrite every parameter and floating buffer of a torch module with hash-init values.

    num_batches_tracked is left as is (the runtime ignores it), and so are buffers that are not saved
    (persistent=False: derived from the config, such as Swin's attention masks)."""
    import torch
    saved = set(module.state_dict())
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if name not in saved:
                continue
            v = tensor(name, t.shape)
            if v is None or not t.is_floating_point():
                continue
            t.copy_(torch.from_numpy(v))
    return module


def _selfcheck():
    import sys
    checks = [("blocks.0.attn.qkv.weight", (576, 192)), ("blocks.0.attn.qkv.bias", (576,)),
              ("blocks.0.norm1.weight", (192,)), ("cls_token", (1, 1, 192)),
              ("decode_head.batch_norm.running_var", (256,)), ("decode_head.batch_norm.running_mean", (256,))]
    print(f"fnv1a64('blocks.0.attn.qkv.weight') = 0x{fnv1a64('blocks.0.attn.qkv.weight'):016x}")
    print(f"fnv1a64('input') = 0x{fnv1a64('input'):016x}")
    for name, shape in checks:
        v = tensor(name, shape).reshape(-1)
        print(f"{name} {list(shape)}: " + " ".join(f"{x:.9g}" for x in v[:4]) +
              f"  (last {v[-1]:.9g}, sum {float(v.astype(np.float64).sum()):.9g})")
    v = input_tensor((1, 3, 224, 224)).reshape(-1)
    print("input [1,3,224,224]: " + " ".join(f"{x:.9g}" for x in v[:4]) +
          f"  (last {v[-1]:.9g}, sum {float(v.astype(np.float64).sum()):.9g})")
    # Independent scalar check of the vectorised path with Python integers.
    name, i = "blocks.0.attn.qkv.weight", 5
    z = (fnv1a64(name) + (i + 1) * 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    z ^= z >> 31
    u = (z >> 11) * 2.0 ** -53
    ref = np.float32((2 * u - 1) * np.sqrt(3.0 / 192))
    got = tensor(name, (576, 192)).reshape(-1)[i]
    if ref != got:
        print(f"MISMATCH scalar {ref} vs vectorised {got}")
        sys.exit(1)
    print("scalar/vectorised agreement: ok")


if __name__ == "__main__":
    _selfcheck()
