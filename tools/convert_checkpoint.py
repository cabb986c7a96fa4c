"""Convert ViT checkpoints to libxformer's layout: timm tensor names + config in __metadata__["config"].

Supported inputs:
  torchvision  VisionTransformer state_dict (vit_b_16, vit_l_16, ...; .pth/.pt saved with torch.save):
      python3 tools/convert_checkpoint.py torchvision vit_b_16.pth out.safetensors [--labels FILE]
  Hugging Face ViTForImageClassification (pytorch_model.bin or model.safetensors + config.json in the same
  directory; preprocessor_config.json is used for mean/std when present):
      python3 tools/convert_checkpoint.py hf path/to/model_dir out.safetensors

Needs only torch + numpy (Debian python3-torch works). `--selftest` (needs timm + transformers + torchvision)
checks both conversions numerically against timm's VisionTransformer.
"""
import argparse
import json
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xfsafetensors  # noqa: E402

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _np(t):
    if hasattr(t, "detach"):
        return t.detach().cpu().float().numpy() if t.is_floating_point() else t.detach().cpu().numpy()
    return np.asarray(t)


def _load_torch(path):
    import torch
    sd = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
    if not isinstance(sd, dict):
        sd = sd.state_dict()
    return {k: _np(v) for k, v in sd.items()}


def _labels_from_file(path):
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def convert_torchvision(sd, labels=None, crop_pct=0.875, mean=None, std=None, mapping=None):
    """-> (timm-named tensors, config); fills `mapping` (torchvision name -> timm name) when given."""
    sd = dict(sd)
    out = {}
    mapping = {} if mapping is None else mapping

    def take(src, dst):
        if src not in sd:
            raise KeyError(f"torchvision checkpoint lacks {src}")
        out[dst] = sd.pop(src)
        mapping[src] = dst

    if any(k.startswith("heads.pre_logits") for k in sd):
        raise ValueError("torchvision ViT with representation_size (heads.pre_logits) is not supported")
    layers = sorted({int(m.group(1)) for k in sd for m in [re.match(r"encoder\.layers\.encoder_layer_(\d+)\.", k)]
                     if m})
    if not layers or layers != list(range(len(layers))):
        raise ValueError("no encoder.layers.encoder_layer_N.* tensors: not a torchvision VisionTransformer")
    take("class_token", "cls_token")
    take("encoder.pos_embedding", "pos_embed")
    take("conv_proj.weight", "patch_embed.proj.weight")
    take("conv_proj.bias", "patch_embed.proj.bias")
    for i in layers:
        p = f"encoder.layers.encoder_layer_{i}."
        b = f"blocks.{i}."
        fc1 = "mlp.0" if p + "mlp.0.weight" in sd else "mlp.linear_1"
        fc2 = "mlp.3" if p + "mlp.3.weight" in sd else "mlp.linear_2"
        for s, d in (("ln_1", "norm1"), ("ln_2", "norm2"), ("self_attention.out_proj", "attn.proj"),
                     (fc1, "mlp.fc1"), (fc2, "mlp.fc2")):
            take(p + s + ".weight", b + d + ".weight")
            take(p + s + ".bias", b + d + ".bias")
        take(p + "self_attention.in_proj_weight", b + "attn.qkv.weight")
        take(p + "self_attention.in_proj_bias", b + "attn.qkv.bias")
    take("encoder.ln.weight", "norm.weight")
    take("encoder.ln.bias", "norm.bias")
    take("heads.head.weight", "head.weight")
    take("heads.head.bias", "head.bias")
    if sd:
        raise ValueError(f"unconverted torchvision tensors: {sorted(sd)[:8]}")

    dim = out["cls_token"].shape[-1]
    pw = out["patch_embed.proj.weight"]
    tokens = out["pos_embed"].shape[1]
    grid = int(round(math.sqrt(tokens - 1)))
    heads = _guess_heads(dim)
    cfg = {"architecture": "vit", "img_size": grid * pw.shape[-1], "patch_size": int(pw.shape[-1]),
           "in_chans": int(pw.shape[1]), "embed_dim": int(dim), "depth": len(layers), "num_heads": heads,
           "mlp_ratio": out["blocks.0.mlp.fc1.weight"].shape[0] / dim, "qkv_bias": True,
           "num_classes": int(out["head.weight"].shape[0]), "class_token": True, "distilled": False,
           "norm_eps": 1e-6, "mean": mean or IMAGENET_MEAN, "std": std or IMAGENET_STD, "crop_pct": crop_pct}
    if labels:
        cfg["labels"] = labels
    return out, cfg


def _guess_heads(dim):
    # torchvision checkpoints do not record the head count; these are the standard ViT sizes (head dim 64).
    known = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16}
    if dim in known:
        return known[dim]
    if dim % 64 == 0:
        return dim // 64
    raise ValueError(f"cannot infer num_heads for width {dim}: pass --num-heads")


def convert_hf(sd, hf_cfg, preproc=None):
    sd = {k[len("vit."):] if k.startswith("vit.") else k: v for k, v in sd.items()}
    out = {}

    def take(src, dst):
        if src not in sd:
            raise KeyError(f"Hugging Face checkpoint lacks {src}")
        out[dst] = sd.pop(src)

    hf_acts = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "quick_gelu": "quick_gelu",
               "relu": "relu", "silu": "silu", "swish": "silu"}
    act = hf_cfg.get("hidden_act", "gelu")
    if act not in hf_acts:
        raise ValueError(f"hidden_act {act!r} not supported (supported: {', '.join(sorted(hf_acts))})")
    if "classifier.weight" not in sd:
        raise ValueError("no classifier.weight: convert a ViTForImageClassification checkpoint")
    depth = hf_cfg["num_hidden_layers"]
    take("embeddings.cls_token", "cls_token")
    take("embeddings.position_embeddings", "pos_embed")
    take("embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight")
    take("embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias")
    qkv_bias = hf_cfg.get("qkv_bias", True)
    for i in range(depth):
        p = f"encoder.layer.{i}."
        b = f"blocks.{i}."
        q, k, v = (sd.pop(p + f"attention.attention.{n}.weight") for n in ("query", "key", "value"))
        out[b + "attn.qkv.weight"] = np.concatenate([q, k, v], 0)
        if qkv_bias:
            qb, kb, vb = (sd.pop(p + f"attention.attention.{n}.bias") for n in ("query", "key", "value"))
            out[b + "attn.qkv.bias"] = np.concatenate([qb, kb, vb], 0)
        for s, d in (("layernorm_before", "norm1"), ("layernorm_after", "norm2"),
                     ("attention.output.dense", "attn.proj"), ("intermediate.dense", "mlp.fc1"),
                     ("output.dense", "mlp.fc2")):
            take(p + s + ".weight", b + d + ".weight")
            take(p + s + ".bias", b + d + ".bias")
    take("layernorm.weight", "norm.weight")
    take("layernorm.bias", "norm.bias")
    take("classifier.weight", "head.weight")
    take("classifier.bias", "head.bias")
    sd = {k: v for k, v in sd.items() if not k.startswith("pooler.")}
    if sd:
        raise ValueError(f"unconverted Hugging Face tensors: {sorted(sd)[:8]}")

    dim = hf_cfg["hidden_size"]
    preproc = preproc or {}
    id2label = hf_cfg.get("id2label") or {}
    n = out["head.weight"].shape[0]
    cfg = {"architecture": "vit", "img_size": int(hf_cfg.get("image_size", 224)),
           "patch_size": int(hf_cfg.get("patch_size", 16)), "in_chans": int(hf_cfg.get("num_channels", 3)),
           "embed_dim": int(dim), "depth": int(depth), "num_heads": int(hf_cfg["num_attention_heads"]),
           "mlp_ratio": hf_cfg.get("intermediate_size", 4 * dim) / dim, "qkv_bias": bool(qkv_bias),
           "num_classes": int(n), "class_token": True, "distilled": False,
           "norm_eps": float(hf_cfg.get("layer_norm_eps", 1e-12)), "act_layer": hf_acts[act],
           "mean": list(preproc.get("image_mean", [0.5, 0.5, 0.5])),
           "std": list(preproc.get("image_std", [0.5, 0.5, 0.5])), "crop_pct": 1.0}
    if id2label and len(id2label) == n:
        labels = [id2label.get(str(i), id2label.get(i)) for i in range(n)]
        if all(isinstance(x, str) for x in labels) and not all(x == f"LABEL_{i}" for i, x in enumerate(labels)):
            cfg["labels"] = labels
    return out, cfg


def load_hf_dir(path):
    d = path if os.path.isdir(path) else os.path.dirname(path)
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        hf_cfg = json.load(f)
    preproc = None
    pp = os.path.join(d, "preprocessor_config.json")
    if os.path.exists(pp):
        with open(pp, encoding="utf-8") as f:
            preproc = json.load(f)
    if os.path.isfile(path):
        weights = path
    elif os.path.exists(os.path.join(d, "model.safetensors")):
        weights = os.path.join(d, "model.safetensors")
    else:
        weights = os.path.join(d, "pytorch_model.bin")
    sd = xfsafetensors.load(weights)[0] if weights.endswith(".safetensors") else _load_torch(weights)
    return sd, hf_cfg, preproc


def save(out_path, tensors, cfg, source):
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    xfsafetensors.save(out_path, tensors, {"config": json.dumps(cfg), "converted_from": source})


def selftest():
    """Random small torchvision and HF ViTs -> convert -> load into timm VisionTransformer -> compare logits."""
    import torch
    import torchvision
    from timm.models.vision_transformer import VisionTransformer
    from transformers import ViTConfig, ViTForImageClassification
    torch.manual_seed(0)
    torch.set_num_threads(1)

    def timm_from(cfg, tensors):
        m = VisionTransformer(img_size=cfg["img_size"], patch_size=cfg["patch_size"], in_chans=cfg["in_chans"],
                              embed_dim=cfg["embed_dim"], depth=cfg["depth"], num_heads=cfg["num_heads"],
                              mlp_ratio=cfg["mlp_ratio"], qkv_bias=cfg["qkv_bias"], num_classes=cfg["num_classes"],
                              norm_layer=lambda d: torch.nn.LayerNorm(d, eps=cfg["norm_eps"]),
                              act_layer=cfg.get("act_layer", "gelu")).eval()
        m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        return m

    tv = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=128,
                                              mlp_dim=256, num_classes=7).eval()
    with torch.no_grad():
        for p in tv.parameters():
            p.normal_(0, 0.2)
    tensors, cfg = convert_torchvision({k: _np(v) for k, v in tv.state_dict().items()})
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        err = (timm_from(cfg, tensors)(x) - tv(x)).abs().max().item()
    print(f"torchvision -> timm: max |diff| {err:.3g}")
    assert err < 1e-4, err

    for act in ("gelu", "gelu_new", "quick_gelu"):
        hc = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=96, num_hidden_layers=2,
                       num_attention_heads=3, intermediate_size=192, num_labels=5, hidden_act=act)
        hf = ViTForImageClassification(hc).eval()
        with torch.no_grad():
            for p in hf.parameters():
                p.normal_(0, 0.2)
        tensors, cfg = convert_hf({k: _np(v) for k, v in hf.state_dict().items()}, hc.to_dict())
        with torch.no_grad():
            err = (timm_from(cfg, tensors)(x) - hf(pixel_values=x).logits).abs().max().item()
        print(f"Hugging Face ViT ({act}) -> timm: max |diff| {err:.3g} (norm_eps {cfg['norm_eps']})")
        assert err < 1e-4, err
    print("selftest ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("format", nargs="?", choices=["torchvision", "hf"])
    ap.add_argument("src", nargs="?")
    ap.add_argument("dst", nargs="?")
    ap.add_argument("--labels", help="label file (one per line) to store in the config")
    ap.add_argument("--num-heads", type=int, help="torchvision: heads (default: width/64)")
    ap.add_argument("--crop-pct", type=float, default=0.875, help="torchvision: crop_pct (default 0.875)")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        selftest()
        return
    if not (args.format and args.src and args.dst):
        ap.error("format, src and dst are required")
    if args.format == "torchvision":
        tensors, cfg = convert_torchvision(_load_torch(args.src), _labels_from_file(args.labels), args.crop_pct)
        if args.num_heads:
            cfg["num_heads"] = args.num_heads
    else:
        tensors, cfg = convert_hf(*load_hf_dir(args.src))
        if args.labels:
            cfg["labels"] = _labels_from_file(args.labels)
    save(args.dst, tensors, cfg, f"{args.format}:{os.path.basename(os.path.abspath(args.src))}")
    print(f"wrote {args.dst}: {len(tensors)} tensors, config " +
          json.dumps({k: v for k, v in cfg.items() if k != "labels"}))


if __name__ == "__main__":
    main()
