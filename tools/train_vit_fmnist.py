"""Train a small timm VisionTransformer on Fashion-MNIST and save it as models/vit-fmnist.safetensors.

Reproducible: fixed seeds, single-threaded by default. See docs/TRAINING.md for the exact command.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
import xfsafetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = 0.2860
STD = 0.3530


def build(args):
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(img_size=28, patch_size=args.patch, in_chans=1, embed_dim=args.dim, depth=args.depth,
                             num_heads=args.heads, mlp_ratio=args.mlp_ratio, qkv_bias=True, num_classes=10,
                             class_token=True, global_pool="token")


def config_of(args):
    return {"architecture": "vit", "img_size": 28, "patch_size": args.patch, "in_chans": 1, "embed_dim": args.dim,
            "depth": args.depth, "num_heads": args.heads, "mlp_ratio": args.mlp_ratio, "qkv_bias": True,
            "num_classes": 10, "class_token": True, "distilled": False, "norm_eps": 1e-6,
            "mean": [MEAN], "std": [STD], "crop_pct": 1.0, "labels": fmnist.LABELS}


def to_input(x_u8):
    x = torch.from_numpy(np.array(x_u8)).float().unsqueeze(1) / 255.0
    return (x - MEAN) / STD


@torch.no_grad()
def evaluate(model, x_u8, y, bs=500):
    model.eval()
    correct = 0
    for i in range(0, len(x_u8), bs):
        logits = model(to_input(x_u8[i:i + bs]))
        correct += (logits.argmax(-1).numpy() == y[i:i + bs]).sum()
    return correct / len(x_u8)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", help="start from this safetensors checkpoint (second training stage)")
    ap.add_argument("--limit-steps", type=int, default=0, help="stop after N steps (timing runs)")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "vit-fmnist.safetensors"))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    xtr, ytr = fmnist.load("train")
    xte, yte = fmnist.load("test")
    model = build(args)
    if args.init:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in xfsafetensors.load(args.init)[0].items()})
    print(f"params: {sum(p.numel() for p in model.parameters())}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos_embed" not in n and "cls_token" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos_embed" not in n
                                                             and "cls_token" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.999))
    steps_per_epoch = len(xtr) // args.batch
    total = steps_per_epoch * args.epochs
    warmup = steps_per_epoch // 2 if not args.init else steps_per_epoch // 10

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return 0.5 * args.lr * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    step = 0
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = rng.permutation(len(xtr))
        run_loss = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            xb = xtr[idx]
            flip = rng.random(len(idx)) < 0.5
            xb = np.where(flip[:, None, None], xb[:, :, ::-1], xb)
            x = to_input(np.ascontiguousarray(xb))
            y = torch.from_numpy(ytr[idx])
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run_loss += loss.item()
            step += 1
            if step % 100 == 0:
                print(f"epoch {epoch} step {step}/{total} loss {run_loss / (b + 1):.4f} "
                      f"{time.time() - t0:.0f}s", flush=True)
            if args.limit_steps and step >= args.limit_steps:
                print(f"{step} steps in {time.time() - t0:.1f}s")
                return
        acc = evaluate(model, xte, yte)
        print(f"epoch {epoch} done: test accuracy {acc * 100:.2f}% ({time.time() - t0:.0f}s)", flush=True)

    acc = evaluate(model, xte, yte)
    print(f"final test accuracy: {acc * 100:.2f}%", flush=True)
    model.eval()
    sd = {k: v for k, v in model.state_dict().items()}
    cfg = config_of(args)
    meta = {"config": json.dumps(cfg), "test_accuracy": f"{acc:.4f}",
            "trained_by": ("(stage 2, from " + args.init + ") " if args.init else "")
                          + "tools/train_vit_fmnist.py " + " ".join(sys.argv[1:])}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    xfsafetensors.save(args.out, sd, meta)
    with open(os.path.join(os.path.dirname(args.out), "fashion-mnist.labels"), "w") as f:
        f.write("\n".join(fmnist.LABELS) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
