#!/usr/bin/env python3
"""Export random-initialised torchvision models to ONNX with torch.onnx.export, each in a directory laid out as
the ONNX backend tests are (model.onnx, test_data_set_0/input_0.pb, output_0.pb: PyTorch's output).

  /usr/bin/python3 tools/make_onnx_models.py OUT_DIR [--opset 17] [--models vit,deit_s,swin,vit@13] [--full]
      [--reference torch|ort]

Needs only Debian's python3-torch and python3-torchvision (no PyPI); tests/test_onnx.c runs the directories.
The models are small variants of the families (their operators and layouts, fewer layers, smaller inputs) so that
the CPU reference backend runs them in seconds: vit (ViT-B/16 blocks, 2 of them, at 112x112), deit_s (DeiT-S
widths, 2 blocks, 112x112), swin (Swin-T's layout at 224x224, width 48, stages of 2, 2, 1 and 1 blocks: shifted
windows in two), segformer (transformers' SegFormer, MiT stages of one block at 64x64; needs transformers, so
tests/data/onnx holds it). NAME@OPSET exports at another opset (vit@13: LayerNorm decomposed, as before opset 17's
LayerNormalization). --full exports the real models (ViT-B/16, DeiT-S, Swin-T at 224x224, SegFormer-B0 at
512x512). --reference ort writes ONNX Runtime's output instead of PyTorch's (needs onnxruntime: the venv of
tools/requirements.txt).
"""
import argparse
import os
import struct
import sys

import torch
import torchvision.models as tvm
from torchvision.models.vision_transformer import VisionTransformer
from torchvision.models.swin_transformer import SwinTransformer


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tensor_proto(t):
    """An ONNX TensorProto (dims = 1, data_type = 2, raw_data = 9) of a float32 tensor."""
    t = t.detach().contiguous().float()
    msg = bytearray()
    for d in t.shape:
        msg += varint(1 << 3 | 0) + varint(int(d))
    msg += varint(2 << 3 | 0) + varint(1)
    raw = t.numpy().tobytes() if hasattr(t, "numpy") else struct.pack("<%df" % t.numel(), *t.flatten().tolist())
    msg += varint(9 << 3 | 2) + varint(len(raw)) + raw
    return bytes(msg)


class Logits(torch.nn.Module):
    """A Hugging Face model's logits as the one output."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).logits


def build(name, full):
    torch.manual_seed({"vit": 1, "deit_s": 2, "swin": 3, "segformer": 4}[name])
    if name == "vit":
        m = tvm.vit_b_16() if full else VisionTransformer(112, 16, 2, 12, 768, 3072, num_classes=1000)
    elif name == "deit_s":
        m = VisionTransformer(224 if full else 112, 16, 12 if full else 2, 6, 384, 1536, num_classes=1000)
    elif name == "segformer":
        from transformers import SegformerConfig, SegformerForSemanticSegmentation
        cfg = SegformerConfig(num_labels=19) if full else SegformerConfig(
            num_labels=5, depths=[1, 1, 1, 1], hidden_sizes=[16, 32, 40, 64], decoder_hidden_size=32,
            num_attention_heads=[1, 2, 2, 4])
        m = Logits(SegformerForSemanticSegmentation(cfg))
    elif name == "swin":
        m = tvm.swin_t() if full else SwinTransformer([4, 4], 48, [2, 2, 1, 1], [3, 6, 12, 24], [7, 7],
                                                      num_classes=1000)
    else:
        raise SystemExit("unknown model " + name)
    # Random init leaves LayerNorms at identity and biases at 0: perturb so every weight matters.
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return m.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--models", default="vit,deit_s,swin,vit@13")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--reference", choices=["torch", "ort"], default="torch")
    a = ap.parse_args()
    for entry in a.models.split(","):
        name, _, opset = entry.partition("@")
        opset = int(opset) if opset else a.opset
        d = os.path.join(a.out, name if opset == a.opset else "%s_opset%d" % (name, opset))
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        m = build(name, a.full)
        torch.manual_seed(7)
        size = {"segformer": 64, "swin": 224}.get(name, 112) if not a.full else 512 if name == "segformer" else 224
        x = torch.randn(1, 3, size, size)
        with torch.no_grad():
            y = m(x)
        # With gradients on, nn.MultiheadAttention takes its exportable path (not the fused fast path).
        torch.onnx.export(m, x, os.path.join(d, "model.onnx"), opset_version=opset, input_names=["pixel_values"],
                          output_names=["logits"], do_constant_folding=True)
        if a.reference == "ort":
            import onnxruntime as ort
            sess = ort.InferenceSession(os.path.join(d, "model.onnx"), providers=["CPUExecutionProvider"])
            y = torch.from_numpy(sess.run(None, {"pixel_values": x.numpy()})[0])
        with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
            f.write(tensor_proto(x))
        with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb") as f:
            f.write(tensor_proto(y))
        print("%s: %s" % (name, d), file=sys.stderr)


if __name__ == "__main__":
    main()
