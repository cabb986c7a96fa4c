"""Train a small Hugging Face SegformerForSemanticSegmentation on synthetic Fashion-MNIST canvases.

Saves models/segformer-fmnist.safetensors (HF tensor names, config in __metadata__) and models/segmentation.labels.
Metric: mean IoU over all 11 classes (background included), accumulated over the held-out set, computed on the
64x64 label grid from logits upsampled bilinearly (align_corners=False) exactly as the runtime does.
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
import segsynth  # noqa: E402
import xfsafetensors  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__)) + "/.."
LABELS = ["background"] + fmnist.LABELS
MEAN = 0.1055
STD = 0.2503

ARCH = {"num_channels": 1, "depths": [2, 2, 2, 2], "sr_ratios": [8, 4, 2, 1], "hidden_sizes": [16, 32, 64, 128],
        "patch_sizes": [7, 3, 3, 3], "strides": [4, 2, 2, 2], "num_attention_heads": [1, 2, 4, 8],
        "mlp_ratios": [4, 4, 4, 4], "decoder_hidden_size": 64, "num_labels": len(LABELS), "layer_norm_eps": 1e-6}


def build():
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    cfg = SegformerConfig(**ARCH, drop_path_rate=0.0, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                          classifier_dropout_prob=0.1)
    return SegformerForSemanticSegmentation(cfg)


def config():
    c = dict(ARCH)
    c.update({"architecture": "segformer", "image_size": [segsynth.SIZE, segsynth.SIZE], "mean": [MEAN],
              "std": [STD], "labels": LABELS})
    return {"architecture": c.pop("architecture"), **c}


def to_input(x_u8):
    x = torch.from_numpy(np.array(x_u8)).float().unsqueeze(1) / 255.0
    return (x - MEAN) / STD


def predict(model, x_u8):
    logits = model(pixel_values=to_input(x_u8)).logits
    up = F.interpolate(logits, size=x_u8.shape[-2:], mode="bilinear", align_corners=False)
    return up


@torch.no_grad()
def miou(model, x_u8, m_u8, bs=200):
    model.eval()
    nc = len(LABELS)
    inter = np.zeros(nc)
    union = np.zeros(nc)
    for i in range(0, len(x_u8), bs):
        pred = predict(model, x_u8[i:i + bs]).argmax(1).numpy()
        gt = m_u8[i:i + bs]
        for c in range(nc):
            p, g = pred == c, gt == c
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    iou = inter / np.maximum(union, 1)
    return iou.mean(), iou


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=7)
    ap.add_argument("--train-size", type=int, default=24000)
    ap.add_argument("--val-size", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fresh-data", action="store_true", help="new training canvases every epoch")
    ap.add_argument("--init", help="start from this safetensors checkpoint (second training stage)")
    ap.add_argument("--hidden-sizes", type=lambda v: [int(x) for x in v.split(",")], default=ARCH["hidden_sizes"],
                    help="stage widths, e.g. 32,64,128,256 (with --init: taken from the checkpoint)")
    ap.add_argument("--decoder-hidden-size", type=int, default=ARCH["decoder_hidden_size"])
    ap.add_argument("--limit-steps", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "segformer-fmnist.safetensors"))
    args = ap.parse_args()

    if args.init:
        init_cfg = json.loads(xfsafetensors.load(args.init)[1]["config"])
        ARCH.update({k: init_cfg[k] for k in ARCH})
    else:
        ARCH["hidden_sizes"] = args.hidden_sizes
        ARCH["decoder_hidden_size"] = args.decoder_hidden_size
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    xtr, ytr = fmnist.load("train")
    xte, yte = fmnist.load("test")
    t0 = time.time()
    tr_x, tr_m = segsynth.make(args.train_size, xtr, ytr, seed=args.seed + 1)
    va_x, va_m = segsynth.make(args.val_size, xte, yte, seed=args.seed + 2)
    print(f"data: {len(tr_x)} train / {len(va_x)} held-out canvases in {time.time() - t0:.0f}s; "
          f"train pixel mean {tr_x.mean() / 255:.4f} std {(tr_x / 255).std():.4f}", flush=True)

    model = build()
    if args.init:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in xfsafetensors.load(args.init)[0].items()})
    print(f"params: {sum(p.numel() for p in model.parameters())}", flush=True)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    steps_per_epoch = len(tr_x) // args.batch
    total = steps_per_epoch * args.epochs
    warmup = steps_per_epoch // 4 if not args.init else steps_per_epoch // 10

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return 0.5 * args.lr * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    step = 0
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        if args.fresh_data and epoch > 0:
            tr_x, tr_m = segsynth.make(args.train_size, xtr, ytr, seed=args.seed + 1 + 1000 * epoch)
        perm = rng.permutation(len(tr_x))
        run = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            logits = predict(model, tr_x[idx])
            loss = F.cross_entropy(logits, torch.from_numpy(tr_m[idx].astype(np.int64)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run += loss.item()
            step += 1
            if step % 100 == 0:
                print(f"epoch {epoch} step {step}/{total} loss {run / (b + 1):.4f} {time.time() - t0:.0f}s",
                      flush=True)
            if args.limit_steps and step >= args.limit_steps:
                print(f"{step} steps in {time.time() - t0:.1f}s")
                return
        m, per = miou(model, va_x, va_m)
        print(f"epoch {epoch} done: held-out mIoU {m:.4f} ({time.time() - t0:.0f}s)", flush=True)
        save(model, args, m, epoch)

    print("per-class IoU: " + ", ".join(f"{n}={v:.3f}" for n, v in zip(LABELS, per)))
    print(f"final held-out mIoU (11 classes, background included): {m:.4f}", flush=True)
    print(f"wrote {args.out}")


def save(model, args, m, epoch):
    """Written after every epoch, so a stopped run leaves its last measured checkpoint."""
    model.eval()
    meta = {"config": json.dumps(config()), "heldout_miou": f"{m:.4f}", "epochs_done": str(epoch + 1),
            "trained_by": ("(stage 2, from " + args.init + ") " if args.init else "")
                          + "tools/train_segformer_synth.py " + " ".join(sys.argv[1:])}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    xfsafetensors.save(tmp, model.state_dict(), meta)
    os.replace(tmp, args.out)
    with open(os.path.join(os.path.dirname(os.path.abspath(args.out)), "segmentation.labels"), "w") as f:
        f.write("\n".join(LABELS) + "\n")

if __name__ == "__main__":
    main()
