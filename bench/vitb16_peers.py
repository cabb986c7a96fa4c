"""ViT-B/16 (224x224, batch 1, f32) CPU latency of the peers libxformer is compared with: PyTorch and ONNX Runtime.

  .../xf-venv/bin/python bench/vitb16_peers.py --threads 1 [--iters 20] [--warmup 3] [--impl torchvision|timm]

The model is torchvision's vit_b_16 (or timm's vit_base_patch16_224) with the hash-init weights of
tools/make_vitb16_reference.py, so all runtimes compute the same function (outputs are cross-checked).
Timing: wall clock per forward call after warm-up; prints best and median in ms.
PyTorch runs in eval mode under torch.inference_mode(); ONNX Runtime uses the model exported by torch.onnx
(opset 14) with ORT_ENABLE_ALL graph optimisation, intra-op threads = --threads, inter-op threads = 1.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import convert_checkpoint  # noqa: E402
import hashinit  # noqa: E402


def build(impl):
    if impl == "timm":
        import timm
        model = timm.create_model("vit_base_patch16_224", pretrained=False).eval()
        hashinit.init_module(model)
        return model
    import torchvision
    model = torchvision.models.vit_b_16(weights=None).eval()
    names = {}
    convert_checkpoint.convert_torchvision({k: v.numpy() for k, v in model.state_dict().items()}, mapping=names)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            p.copy_(torch.from_numpy(hashinit.tensor(names[name], p.shape)))
    return model


def timeit(fn, warmup, iters):
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times), statistics.median(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--impl", choices=["torchvision", "timm"], default="torchvision")
    ap.add_argument("--skip-onnx", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = build(args.impl)
    x = torch.from_numpy(hashinit.input_tensor((1, 3, 224, 224)))
    rows = []

    def run_torch():
        with torch.inference_mode():
            return model(x).numpy()

    best, med, ref = timeit(run_torch, args.warmup, args.iters)
    rows.append((f"PyTorch {torch.__version__} ({args.impl})", best, med, 0.0))

    if not args.skip_onnx:
        import onnxruntime as ort
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "vit_b_16.onnx")
            # Grad enabled on purpose: it keeps nn.MultiheadAttention off its fused fast path, which has no
            # ONNX export.
            torch.onnx.export(model, (x,), path, opset_version=14, input_names=["input"],
                              output_names=["logits"], do_constant_folding=True)
            so = ort.SessionOptions()
            so.intra_op_num_threads = args.threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            feed = {"input": x.numpy()}
            best, med, out = timeit(lambda: sess.run(None, feed)[0], args.warmup, args.iters)
            rows.append((f"ONNX Runtime {ort.__version__}", best, med, float(np.abs(out - ref).max())))

    print(f"ViT-B/16 224x224 batch 1 f32, {args.threads} thread(s), {args.iters} iters after {args.warmup} warm-up")
    print(f"{'runtime':34s} {'best ms':>9s} {'median ms':>10s} {'max|dlogit|':>12s}")
    for name, b, m, e in rows:
        print(f"{name:34s} {b:9.1f} {m:10.1f} {e:12.2e}")


if __name__ == "__main__":
    main()
