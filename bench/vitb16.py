"""ViT-B/16 (224x224, f32) latency: libxformer on each backend next to PyTorch and ONNX Runtime (CPU), at the same
thread counts and batch, in one run.

  ~/xf-venv/bin/python bench/vitb16.py --model OUTDIR/vit_b_16.safetensors --bench build/bench/xformer-bench \
      [--threads 1,2] [--backends opencl,vulkan] [--iters 10] [--warmup 2] [--impl torchvision|timm|swin_t]
      [--batch N] [--weights stored,f16,f32,int8-channel,int8-block32] [--ort-int8] [--onnx-import]

--impl swin_t times timm's swin_tiny_patch4_window7_224 instead (hash-init); --write-model FILE writes it as a
libxformer model file first (flat config in __metadata__) and times that. --batch N times N images per forward call
(the ONNX model is exported for that batch; libxformer builds its graph for it). --weights f32,f16 times libxformer
once per storage of the linear-layer weights on the device (xf_model_options_t.weights), one row each; int8-channel
and int8-block32 quantize them at load. --ort-int8 adds ONNX Runtime on the same model after its own dynamic int8
quantization (onnxruntime.quantization.quantize_dynamic of its MatMul and Gemm nodes, QInt8 weights; activations
are quantized too, per tensor at run time), the int8 peer. --onnx-import also times libxformer on the very ONNX
file ONNX Runtime runs (imported by xf_model_load, with its fusions), next to the hand-built model.

OUTDIR/vit_b_16.safetensors comes from tools/make_vitb16_reference.py: torchvision's vit_b_16 with the hash-init
weights, which is also the model the peers build here, so all runtimes compute the same function (the peers'
outputs are cross-checked against each other; libxformer's against PyTorch in tests/test_model.c).
Threads: PyTorch torch.set_num_threads; ONNX Runtime intra-op threads (sequential executor); libxformer on PoCL
POCL_MAX_PTHREAD_COUNT, on lavapipe LP_NUM_THREADS (each backend runs in a fresh xformer-bench process).
Timing: wall clock per forward call after warm-up (libxformer: xf_model_run, input upload to logits download).
PyTorch runs in eval mode under torch.inference_mode(); ONNX Runtime uses the model exported by torch.onnx
(opset 14) with ORT_ENABLE_ALL graph optimisation.
"""
import argparse
import ctypes
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import hashinit  # noqa: E402
import make_vitb16_reference  # noqa: E402


def build(impl):
    if impl == "swin_t":
        import timm
        model = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False).eval()
        hashinit.init_module(model)
        return model
    if impl == "timm":
        import timm
        model = timm.create_model("vit_base_patch16_224", pretrained=False).eval()
        hashinit.init_module(model)
        return model
    return make_vitb16_reference.hashinit_vit_b_16()


def timeit(fn, warmup, iters):
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times), statistics.median(times), out


def openblas_coretype():
    """OpenBLAS 0.3.21 detects some AVX-512 CPUs as "Prescott" (5x slower); name the right kernels from the CPU flags."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return None
    for flag, core in (("avx512_bf16", "Cooperlake"), ("avx512f", "SkylakeX"), ("avx2", "Haswell")):
        if flag in flags:
            return core
    return None


def pin_blas_threads(threads):
    """Debian's torch runs its GEMMs in OpenBLAS, whose own pthread pool ignores torch.set_num_threads."""
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(threads)
    except (OSError, AttributeError):
        pass


def xformer_row(bench, model, backend, threads, iters, batch, weights):
    env = dict(os.environ, POCL_MAX_PTHREAD_COUNT=str(threads), LP_NUM_THREADS=str(threads))
    out = subprocess.run([bench, "--model", model, "--batch", str(batch), "--weights", weights, "--backend", backend,
                          "--reps", str(iters)],
                         env=env,
                         capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        # | backend (device) | weight MB | load s | first run s | best ms | median ms |
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith(backend + " ("):
            if cells[4] == "n/a":
                break
            return f"libxformer {cells[0]}", float(cells[4]), float(cells[5]), float(cells[2]), float(cells[1])
    sys.stderr.write(f"xformer-bench --backend {backend} gave no result:\n{out.stdout}{out.stderr}")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1, help="images per forward call")
    ap.add_argument("--impl", choices=["torchvision", "timm", "swin_t"], default="torchvision")
    ap.add_argument("--write-model", help="with --impl swin_t: write the libxformer model file here and time it")
    ap.add_argument("--model", help="libxformer model file (tools/make_vitb16_reference.py); omit for peers only")
    ap.add_argument("--bench", default="build/bench/xformer-bench", help="the xformer-bench executable")
    ap.add_argument("--weights", default="stored",
                    help="comma-separated linear-weight storages to time libxformer with: stored (as in the file), "
                         "f16, f32, int8-channel, int8-block32 (xformer-bench --weights)")
    ap.add_argument("--ort-int8", action="store_true",
                    help="also time ONNX Runtime on its dynamically int8-quantized model")
    ap.add_argument("--onnx-import", action="store_true",
                    help="also time libxformer on the ONNX file ONNX Runtime runs (xf_model_load of a .onnx)")
    ap.add_argument("--backends", default="opencl,vulkan",
                    help="libxformer backends (cpu is the scalar reference oracle: about a minute per run)")
    args = ap.parse_args()
    # Set before torch loads OpenBLAS and OpenMP: the environment is read once, at library load.
    env = {}
    if "OPENBLAS_CORETYPE" not in os.environ and openblas_coretype():
        env["OPENBLAS_CORETYPE"] = openblas_coretype()
    if "OMP_WAIT_POLICY" not in os.environ:
        env["OMP_WAIT_POLICY"] = "PASSIVE"  # spinning OpenMP workers would fight OpenBLAS's own threads
    if env:
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, **env))

    import onnxruntime as ort
    torch.set_num_interop_threads(1)
    model = build(args.impl)
    x = torch.from_numpy(hashinit.input_tensor((args.batch, 3, 224, 224)))
    if args.write_model:
        import json
        import xfsafetensors
        cfg = {"architecture": "swin", "img_size": 224, "patch_size": 4, "embed_dim": 96, "depths": [2, 2, 6, 2],
               "num_heads": [3, 6, 12, 24], "window_size": 7, "num_classes": 1000}
        xfsafetensors.save(args.write_model, {k: v for k, v in model.state_dict().items()},
                           {"config": json.dumps(cfg)})
        args.model = args.write_model
    tmp = tempfile.TemporaryDirectory()
    onnx_path = os.path.join(tmp.name, "model.onnx")
    # Grad enabled on purpose: it keeps nn.MultiheadAttention off its fused fast path, which has no ONNX export.
    torch.onnx.export(model, (x,), onnx_path, opset_version=14, input_names=["input"], output_names=["logits"],
                      do_constant_folding=True)

    title = "Swin-T (timm swin_tiny_patch4_window7_224)" if args.impl == "swin_t" else "ViT-B/16"
    print(f"{title} 224x224, batch {args.batch}, f32; {args.iters} timed runs after {args.warmup} warm-up; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs online; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')} OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print()
    print("| threads | runtime | best ms | median ms | speed vs ONNX Runtime (best; >1 is faster) | note |")
    print("|---|---|---|---|---|---|")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        pin_blas_threads(threads)
        rows = []

        def run_torch():
            with torch.inference_mode():
                return model(x).numpy()

        best, med, ref = timeit(run_torch, args.warmup, args.iters)
        torch_row = (f"PyTorch {torch.__version__} ({args.impl})", best, med)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        feed = {"input": x.numpy()}
        ort_best, med, out = timeit(lambda: sess.run(None, feed)[0], args.warmup, args.iters)
        # ORT's pool threads spin after a run; drop the session so they cannot steal cores from what follows.
        del sess
        gc.collect()
        rows.append((f"ONNX Runtime {ort.__version__}", ort_best, med, ""))
        if args.ort_int8:
            if not os.path.exists(onnx_path + ".int8"):
                from onnxruntime.quantization import QuantType, quantize_dynamic
                import logging
                logging.getLogger().setLevel(logging.ERROR)
                # The linear layers, as for transformers in ORT's docs (its CPU provider has no int8 ConvInteger).
                quantize_dynamic(onnx_path, onnx_path + ".int8", weight_type=QuantType.QInt8,
                                 op_types_to_quantize=["MatMul", "Gemm"])
            sess = ort.InferenceSession(onnx_path + ".int8", so, providers=["CPUExecutionProvider"])
            b8, m8, out8 = timeit(lambda: sess.run(None, feed)[0], args.warmup, args.iters)
            del sess
            gc.collect()
            cos = float(np.dot(out8.ravel(), out.ravel()) / (np.linalg.norm(out8) * np.linalg.norm(out)))
            rows.append((f"ONNX Runtime {ort.__version__}, dynamic int8", b8, m8, f"cosine {cos:.5f} to f32"))
        rows.append(torch_row + (f"ORT max abs logit diff {float(np.abs(out - ref).max()):.1e}",))
        models = [(args.model, "")] if args.model else []
        if args.onnx_import:
            models.append((onnx_path, ", ONNX import"))
        for path, what in models:
            for backend in args.backends.split(","):
                for weights in args.weights.split(","):
                    r = xformer_row(args.bench, path, backend, threads, args.iters, args.batch, weights)
                    if r:
                        rows.append((f"{r[0]}{what}, {weights} weights", r[1], r[2],
                                     f"load {r[3]:.2f} s, weights {r[4]:.0f} MB"))
        for name, b, m, note in rows:
            print(f"| {threads} | {name} | {b:.1f} | {m:.1f} | {ort_best / b:.2f}x | {note} |", flush=True)


if __name__ == "__main__":
    main()
