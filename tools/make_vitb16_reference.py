"""ViT-B/16 end-to-end reference from Debian packages only (python3-torch, python3-torchvision, python3-numpy).

  /usr/bin/python3 tools/make_vitb16_reference.py OUTDIR

1. builds torchvision vit_b_16 (no weights), overwrites every parameter with the hash init of its timm name
   (so the converted file equals a hash-init timm ViT-B/16: the C side can also test without the file);
2. saves the state_dict (OUTDIR/vit_b_16.pth) and converts it with tools/convert_checkpoint.py
   -> OUTDIR/vit_b_16.safetensors (timm names, config metadata; 330 MiB);
3. writes OUTDIR/vit_b_16_ref.safetensors: "input" (hash init, [1,3,224,224]) and "logits" [1,1000] of the
   torchvision model in eval mode.
"""
import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_checkpoint  # noqa: E402
import hashinit  # noqa: E402
import xfsafetensors  # noqa: E402


def hashinit_vit_b_16():
    """torchvision's vit_b_16 in eval mode, every tensor set to the hash init of its timm name."""
    model = torchvision.models.vit_b_16(weights=None).eval()
    names = {}
    convert_checkpoint.convert_torchvision({k: v.numpy() for k, v in model.state_dict().items()}, mapping=names)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            p.copy_(torch.from_numpy(hashinit.tensor(names[name], p.shape)))
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep-pth", action="store_true", help="keep the intermediate torchvision .pth")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.outdir, exist_ok=True)

    t0 = time.time()
    model = hashinit_vit_b_16()
    pth = os.path.join(args.outdir, "vit_b_16.pth")
    torch.save(model.state_dict(), pth)
    print(f"hash-initialised torchvision vit_b_16 ({sum(p.numel() for p in model.parameters())} parameters) "
          f"in {time.time() - t0:.1f}s", flush=True)

    dst = os.path.join(args.outdir, "vit_b_16.safetensors")
    subprocess.run([sys.executable, os.path.join(HERE, "convert_checkpoint.py"), "torchvision", pth, dst],
                   check=True)
    if not args.keep_pth:
        os.remove(pth)

    x = hashinit.input_tensor((1, 3, 224, 224))
    t1 = time.time()
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
    print(f"forward {time.time() - t1:.2f}s; logits[:4] {logits[0, :4].tolist()} argmax {int(logits.argmax())}")
    ref = os.path.join(args.outdir, "vit_b_16_ref.safetensors")
    xfsafetensors.save(ref, {"input": x, "logits": logits},
                       {"model": "torchvision vit_b_16, hash init of the timm names, converted to timm names",
                        "torch": torch.__version__, "torchvision": torchvision.__version__})
    conv = xfsafetensors.load(dst)[0]
    assert np.array_equal(conv["blocks.0.attn.qkv.weight"],
                          model.state_dict()["encoder.layers.encoder_layer_0.self_attention.in_proj_weight"].numpy())
    print(f"wrote {dst} and {ref} ({time.time() - t0:.1f}s total)")


if __name__ == "__main__":
    main()
