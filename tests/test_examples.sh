#!/bin/sh
# SPDX-License-Identifier: MIT
# The example programs as a user runs them: the bundled models on the sample images on every backend
# column, libxformer's accuracy and mean IoU equal to PyTorch's on small committed subsets, and the
# errors for missing files, unreadable images, the wrong kind of model and bad options; the conventions of
# every program (--help, --version, exit status 2 for usage errors), --json output, and several inputs of which
# one fails.
#
# usage: test_examples.sh SOURCE_DIR CLASSIFY SEGMENT ACCURACY
# Columns come from XFORMER_TEST_BACKENDS (default cpu); "+gpu" forces the tiled kernels. xformer-devices and
# xformer-bench are found in the build tree next to CLASSIFY (build/examples/..).
set -u
src=$1 classify=$2 segment=$3 accuracy=$4
build=$(dirname "$(dirname "$classify")")
devices=$build/xformer-devices bench=$build/bench/xformer-bench
models=$src/models images=$src/examples/images data=$src/tests/data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
failures=0

fail() {
    echo "FAIL: $*"
    sed 's/^/    /' "$work/out" | head -n 30
    failures=$((failures + 1))
}

# expect STATUS PATTERN DESCRIPTION -- COMMAND...: runs COMMAND, wants exit STATUS and PATTERN (grep -E)
# in its combined output.
expect() {
    want=$1 pattern=$2 what=$3
    shift 4
    "$@" >"$work/out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$what: exit status $got, want $want ($*)"
    elif ! grep -E -q -- "$pattern" "$work/out"; then
        fail "$what: output lacks /$pattern/ ($*)"
    else
        echo "ok: $what"
    fi
}

# expect_stdout STATUS PATTERN DESCRIPTION -- COMMAND...: as expect, with PATTERN searched in stdout alone.
expect_stdout() {
    want=$1 pattern=$2 what=$3
    shift 4
    "$@" >"$work/out" 2>"$work/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        cat "$work/err" >>"$work/out"
        fail "$what: exit status $got, want $want ($*)"
    elif ! grep -E -q -- "$pattern" "$work/out"; then
        cat "$work/err" >>"$work/out"
        fail "$what: stdout lacks /$pattern/ ($*)"
    else
        echo "ok: $what"
    fi
}

# json_check DESCRIPTION CONDITION: the stdout of the last expect_stdout is valid JSON (python3 -m json.tool)
# and the Python expression CONDITION holds for it as d.
json_check() {
    condition='import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)'
    if ! python3 -m json.tool "$work/out" >/dev/null 2>"$work/err"; then
        fail "$1: stdout is not valid JSON: $(cat "$work/err")"
    elif ! python3 -c "$condition" "$work/out" "$2"; then
        fail "$1: the JSON document fails $2"
    else
        echo "ok: $1"
    fi
}

columns=${XFORMER_TEST_BACKENDS:-cpu}
backends=
for column in $(echo "$columns" | tr ',' ' '); do
    backend=${column%%+*}
    kernels=
    [ "$backend" != "$column" ] && kernels=${column#*+}
    case "$backends" in *"$backend"*) ;; *) backends=${backends:+$backends,}$backend ;; esac
    export XFORMER_KERNELS="$kernels"
    [ -z "$kernels" ] && unset XFORMER_KERNELS

    expect 0 '^ +[0-9.]+% +Sneaker' "[$column] classify sneaker.png: top-1 Sneaker" -- \
        "$classify" "$models/vit-fmnist.safetensors" "$images/sneaker.png" --backend "$backend"
    grep -q "backend: $backend" "$work/out" || fail "[$column] classify: the banner does not name $backend"
    expect 0 'Ankle boot' "[$column] classify three images, RGB resized and cropped coat" -- \
        "$classify" "$models/vit-fmnist.safetensors" "$images/trouser.png" "$images/coat_rgb_96x80.png" \
        "$images/ankle_boot.png" --top 2 --backend "$backend"
    [ "$(grep -E -c '^ +[0-9.]+% ' "$work/out")" -eq 6 ] || fail "[$column] classify --top 2: want 2 lines per image"
    grep -A1 'coat_rgb_96x80' "$work/out" | grep -q 'Coat' ||
        fail "[$column] classify: coat_rgb_96x80.png is not a Coat"
    # Four images as one batch, and five as a batch of four and a partial one: the same results, in order.
    four="$images/trouser.png $images/coat_rgb_96x80.png $images/ankle_boot.png $images/bag.png"
    # shellcheck disable=SC2086
    "$classify" "$models/vit-fmnist.safetensors" $four --top 2 --backend "$backend" 2>&1 |
        grep -E '^ +[0-9.]+% |^/' | sed 's/ (.*//' >"$work/single"
    # shellcheck disable=SC2086
    expect 0 'the batch of 4' "[$column] classify four images as one batch" -- \
        "$classify" "$models/vit-fmnist.safetensors" $four --top 2 --batch 4 --backend "$backend"
    grep -E '^ +[0-9.]+% |^/' "$work/out" | sed 's/ (.*//' | cmp -s - "$work/single" ||
        fail "[$column] classify --batch 4: results differ from one image at a time"
    expect 0 'the batch of 4' "[$column] classify five images, batches of 4" -- \
        "$classify" "$models/vit-fmnist.safetensors" "$images/trouser.png" "$images/coat_rgb_96x80.png" \
        "$images/ankle_boot.png" "$images/bag.png" "$images/sneaker.png" --top 1 --batch 4 --backend "$backend"
    [ "$(grep -E -c '^ +[0-9.]+% ' "$work/out")" -eq 5 ] || fail "[$column] classify --batch 4: want 5 results"
    grep -A1 'sneaker' "$work/out" | grep -q 'Sneaker' || fail "[$column] classify --batch 4: the fifth image"

    rm -f "$work/mask.png" "$work/overlay.png"
    expect 0 'Pullover' "[$column] segment seg_canvas2.png" -- \
        "$segment" "$models/segformer-fmnist.safetensors" "$images/seg_canvas2.png" -o "$work/mask.png" \
        --overlay "$work/overlay.png" --backend "$backend"
    for class in Coat Sandal; do
        grep -q "$class" "$work/out" || fail "[$column] segment seg_canvas2.png: no $class pixels"
    done
    for f in mask overlay; do
        [ "$(head -c 4 "$work/$f.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e47 ] ||
            fail "[$column] segment: $f.png is not a PNG"
    done
done
# The accuracy checks run each backend's own kernel style (the loop left the last column's exported).
unset XFORMER_KERNELS

# PyTorch on the same subsets: 89.00 % on the first 200 test images (tools/train_vit_fmnist.py evaluate) and
# mean IoU 0.6718 on the first 50 held-out canvases (tools/segsynth.py --count 50, as committed in tests/data).
if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
    expect 0 '89\.00%' "accuracy on 200 Fashion-MNIST test images on $backends" -- \
        "$accuracy" "$models/vit-fmnist.safetensors" --limit 200 --backends "$backends"
    if grep -E '^(cpu|opencl|vulkan) ' "$work/out" | grep -E -v ' 89\.00% +(-|100\.00%) ' | grep -q .; then
        fail "accuracy: a backend differs from PyTorch's 89.00 % or from the first backend"
    fi
else
    echo "FAIL: /usr/share/datasets/fashion-mnist is missing (apt-get install dataset-fashion-mnist)"
    failures=$((failures + 1))
fi
# int8 weights (docs/MODELS.md): a file from tools/quantize.py scores as the model quantized at load, every device
# backend alike, within a point of PyTorch's f32 89.00 % on these 200 images (the whole test set: docs/MODELS.md).
# The CPU reference's int8 reads are the op table's and test_model's. The small run (the sanitizer stage, where
# Vulkan under validation takes a minute here) checks the first device backend only.
int8_backends=$(echo "$backends" | tr ',' '\n' | grep -v '^cpu$' | paste -sd, -)
[ "${XFORMER_TEST_SMALL:-}" = 1 ] && int8_backends=${int8_backends%%,*}
[ -n "$int8_backends" ] || int8_backends=$backends
for fmt in int8-channel int8-block32; do
    if /usr/bin/python3 "$src/tools/quantize.py" "$models/vit-fmnist.safetensors" "$work/vit-$fmt.safetensors" \
        --format "$fmt" >"$work/out" 2>&1; then
        expect 0 '%' "accuracy of a $fmt file on $int8_backends" -- \
            "$accuracy" "$work/vit-$fmt.safetensors" --limit 200 --backends "$int8_backends"
        grep -E '^(cpu|opencl|vulkan) ' "$work/out" | sed 's/ \{2,\}[0-9.]*$//' >"$work/acc-file"
        expect 0 '%' "accuracy with --weights $fmt on $int8_backends" -- \
            "$accuracy" "$models/vit-fmnist.safetensors" --weights "$fmt" --limit 200 --backends "$int8_backends"
        grep -E '^(cpu|opencl|vulkan) ' "$work/out" | sed 's/ \{2,\}[0-9.]*$//' >"$work/acc-load"
        if ! cmp -s "$work/acc-file" "$work/acc-load"; then
            fail "$fmt: the quantized file and --weights $fmt score differently"
        elif grep -E -v ' (88\.[0-9]0|89\.[0-9]0|90\.00)% +(-|100\.00%)$' "$work/acc-load" | grep -q .; then
            fail "$fmt: accuracy more than a point from 89.00 %, or backends disagree"
        fi
    else
        fail "tools/quantize.py --format $fmt failed (python3-numpy is needed)"
    fi
done
expect 0 '0\.6718' "mean IoU on 50 held-out canvases on $backends" -- \
    "$accuracy" "$models/segformer-fmnist.safetensors" --data "$data" --backends "$backends"
if grep -E '^(cpu|opencl|vulkan) ' "$work/out" | grep -E -v ' 0\.6718 +(-|100\.0000%) ' | grep -q .; then
    fail "mean IoU: a backend differs from PyTorch's 0.6718 or from the first backend's masks"
fi

# The bundled classifier as a timm checkpoint directory (config.json naming vit_tiny_patch16_224 with model_args,
# no config in the file): xformer-classify takes the directory and gives the bundled model's answer.
if python3 - "$models/vit-fmnist.safetensors" "$work/timm-dir" <<'PYEOF'
import json, os, struct, sys
blob = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
cfg = json.loads(header["__metadata__"].pop("config"))
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
os.makedirs(sys.argv[2], exist_ok=True)
open(os.path.join(sys.argv[2], "model.safetensors"), "wb").write(struct.pack("<Q", len(text)) + text + blob[8 + n:])
args = {k: cfg[k] for k in ("img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads", "mlp_ratio")}
timm = {"architecture": "vit_tiny_patch16_224.custom", "num_classes": cfg["num_classes"], "model_args": args,
        "label_names": cfg["labels"],
        "pretrained_cfg": {"input_size": [1, 28, 28], "crop_pct": 1.0, "mean": cfg["mean"], "std": cfg["std"]}}
json.dump(timm, open(os.path.join(sys.argv[2], "config.json"), "w"))
PYEOF
then
    expect 0 '^ +[0-9.]+% +Sneaker' "classify with a timm checkpoint directory" -- \
        "$classify" "$work/timm-dir" "$images/sneaker.png" --backend cpu
else
    fail "could not write a timm directory from the bundled model"
fi

# The bundled classifier as a Hugging Face ViTForImageClassification directory (transformers' names, q/k/v
# apart, config.json and preprocessor_config.json): xformer-classify takes it as it is.
if python3 - "$models/vit-fmnist.safetensors" "$work/hf-dir" <<'PYEOF'
import json, os, re, struct, sys
blob = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
cfg = json.loads(header.pop("__metadata__")["config"])
data = blob[8 + n:]
fixed = {"cls_token": "vit.embeddings.cls_token", "pos_embed": "vit.embeddings.position_embeddings",
         "patch_embed.proj": "vit.embeddings.patch_embeddings.projection", "norm": "vit.layernorm", "head": "classifier"}
block = {"norm1": "layernorm_before", "attn.proj": "attention.output.dense", "norm2": "layernorm_after",
         "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"}
out, chunks, at = {}, [], 0
def put(name, dtype, shape, raw):
    global at
    out[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + len(raw)]}
    chunks.append(raw)
    at += len(raw)
for name, t in header.items():
    raw = data[t["data_offsets"][0]:t["data_offsets"][1]]
    base, _, leaf = name.rpartition(".")
    m = re.match(r"blocks\.(\d+)\.(.*)", base)
    if m and m.group(2) == "attn.qkv":
        third = len(raw) // 3
        for i, part in enumerate(("query", "key", "value")):
            shape = [t["shape"][0] // 3] + t["shape"][1:]
            put(f"vit.encoder.layer.{m.group(1)}.attention.attention.{part}.{leaf}", t["dtype"], shape,
                raw[i * third:(i + 1) * third])
    elif m:
        put(f"vit.encoder.layer.{m.group(1)}.{block[m.group(2)]}.{leaf}", t["dtype"], t["shape"], raw)
    else:
        put(fixed[base] + ("." + leaf if base else "") if base else fixed[name], t["dtype"], t["shape"], raw)
text = json.dumps(out).encode()
text += b" " * (-len(text) % 8)
d = sys.argv[2]
os.makedirs(d, exist_ok=True)
open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
hf = {"model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": cfg["embed_dim"],
      "num_hidden_layers": cfg["depth"], "num_attention_heads": cfg["num_heads"],
      "intermediate_size": int(cfg["embed_dim"] * cfg["mlp_ratio"]), "image_size": cfg["img_size"],
      "patch_size": cfg["patch_size"], "num_channels": cfg["in_chans"], "layer_norm_eps": cfg["norm_eps"],
      "id2label": {str(i): label for i, label in enumerate(cfg["labels"])}}
json.dump(hf, open(os.path.join(d, "config.json"), "w"))
json.dump({"image_processor_type": "ViTImageProcessor", "size": {"height": cfg["img_size"], "width": cfg["img_size"]},
           "image_mean": cfg["mean"], "image_std": cfg["std"]}, open(os.path.join(d, "preprocessor_config.json"), "w"))
PYEOF
then
    expect 0 '^ +[0-9.]+% +Sneaker' "classify with a Hugging Face directory" -- \
        "$classify" "$work/hf-dir" "$images/sneaker.png" --backend cpu
else
    fail "could not write a Hugging Face directory from the bundled model"
fi

# ONNX files: transformers' SegFormer (tests/data/onnx) and, when CI exported them, torchvision's DeiT-S layout,
# with the preprocessing given on the command line.
if "$classify" --help | grep -q -- '--mean'; then
    onnx_seg=$data/onnx/segformer/model.onnx
    if [ -f "$onnx_seg" ] && grep -q XF_HAVE_ONNX "$build/build.ninja" 2>/dev/null; then
        expect 0 'onnx segmenter' "segment with an ONNX SegFormer" -- \
            "$segment" "$onnx_seg" "$images/seg_canvas2.png" -o "$work/onnx-mask.png" --backend cpu \
            --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 --interpolation bilinear
        expect 1 'not a classifier; use xformer-segment' "an ONNX segmenter given to xformer-classify" -- \
            "$classify" "$onnx_seg" "$images/sneaker.png"
        expect 1 'need 3 numbers' "--mean of the wrong length for an ONNX model" -- \
            "$segment" "$onnx_seg" "$images/seg_canvas2.png" -o "$work/onnx-mask.png" --mean 1,2
        expect 2 'interpolation needs' "an unknown --interpolation" -- \
            "$segment" "$onnx_seg" "$images/seg_canvas2.png" --interpolation cubic
    fi
    deit=${XFORMER_ONNX_MODELS_DIR:-}/deit_s/model.onnx
    if [ -n "${XFORMER_ONNX_MODELS_DIR:-}" ] && [ -f "$deit" ]; then
        for backend in $(echo "$backends" | tr ',' ' '); do
            expect 0 '^ +[0-9.]+% +' "[$backend] classify with an exported ONNX DeiT-S" -- \
                env -u XFORMER_KERNELS "$classify" "$deit" "$images/coat_rgb_96x80.png" --backend "$backend" \
                --labels "$models/imagenet1k.labels" --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 \
                --interpolation bicubic --top 3
        done
    fi
fi

printf 'not an image\n' >"$work/text.png"
expect 1 'nope\.safetensors.*(No such file|cannot open)' "missing model" -- \
    "$classify" "$work/nope.safetensors" "$images/sneaker.png"
expect 1 'missing\.png: No such file' "missing image" -- \
    "$classify" "$models/vit-fmnist.safetensors" "$work/missing.png"
expect 1 'text\.png: .*(unknown image type|not)' "unreadable image" -- \
    "$segment" "$models/segformer-fmnist.safetensors" "$work/text.png" -o "$work/m.png"
expect 1 'not a classifier; use xformer-segment' "segmenter given to xformer-classify" -- \
    "$classify" "$models/segformer-fmnist.safetensors" "$images/sneaker.png"
expect 1 'not a segmenter; use xformer-classify' "classifier given to xformer-segment" -- \
    "$segment" "$models/vit-fmnist.safetensors" "$images/seg_canvas1.png" -o "$work/m.png"
expect 2 'a segmenter needs --data DIR' "segmenter accuracy without --data" -- \
    "$accuracy" "$models/segformer-fmnist.safetensors" --backends cpu
expect 1 'cannot open .*canvases-images-idx3-ubyte\.gz' "segmenter accuracy on a directory without canvases" -- \
    "$accuracy" "$models/segformer-fmnist.safetensors" --data "$work" --backends cpu
expect 1 'truncated' "truncated model file" -- sh -c \
    "head -c 100000 '$models/vit-fmnist.safetensors' >'$work/cut.safetensors' &&
     exec '$classify' '$work/cut.safetensors' '$images/sneaker.png'"
expect 2 "unknown backend 'metal'" "unknown --backend" -- \
    "$classify" "$models/vit-fmnist.safetensors" "$images/sneaker.png" --backend metal
expect 1 "XFORMER_BACKEND='metal' is not a backend" "unknown XFORMER_BACKEND" -- \
    env XFORMER_BACKEND=metal "$classify" "$models/vit-fmnist.safetensors" "$images/sneaker.png"
expect 2 "unknown option '--bogus'" "unknown option" -- "$segment" --bogus
expect 2 '^usage: xformer-segment' "segment without -o" -- \
    "$segment" "$models/segformer-fmnist.safetensors" "$images/seg_canvas1.png"
expect 2 'needs a positive integer' "--top 0" -- \
    "$classify" "$models/vit-fmnist.safetensors" "$images/sneaker.png" --top 0
expect 2 "option '--top' needs a value" "--top without a value" -- "$classify" "$models/vit-fmnist.safetensors" --top
expect 2 "unknown backend 'metal'" "unknown backend in --backends" -- \
    "$accuracy" "$models/vit-fmnist.safetensors" --backends cpu,metal

# The conventions every program keeps: --help and --version on stdout with exit 0, usage errors exit 2.
set -- "$classify" "$segment" "$accuracy"
for prog in "$devices" "$bench"; do
    if [ -x "$prog" ]; then
        set -- "$@" "$prog"
    else
        echo "FAIL: $prog is not built"
        failures=$((failures + 1))
    fi
done
for prog in "$@"; do
    name=$(basename "$prog")
    expect_stdout 0 '^usage: ' "$name --help" -- "$prog" --help
    expect_stdout 0 "^$name \\(libxformer [0-9]+\\.[0-9]+\\.[0-9]+\\)\$" "$name --version" -- "$prog" --version
    expect 2 "unknown option '--bogus'" "$name --bogus" -- "$prog" --bogus
    grep -q "Try '$name --help'" "$work/out" || fail "$name --bogus: no pointer to --help"
done

# Several images: a failure on one is reported, the others still run, the exit status is 1.
first=${backends%%,*}
expect_stdout 1 'Sneaker' "classify --json with a missing image" -- \
    "$classify" --json "$models/vit-fmnist.safetensors" "$images/sneaker.png" "$work/missing.png" --backend="$first"
grep -q 'missing\.png: No such file' "$work/err" || fail "classify --json: stderr does not name missing.png"
json_check "classify --json: the good image has results, the missing one an error" \
    "d['images'][0]['top'][0]['label'] == 'Sneaker' and d['images'][0]['width'] == 28 and
     'error' in d['images'][1] and 'top' not in d['images'][1] and d['model']['classes'] == 10"
python3 -c '
import struct, sys, zlib
w, h = 70000, 1
raw = b"".join(b"\0" + b"\x80" * w for _ in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                              chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))' "$work/wide.png"
expect 1 'wide\.png: 70000x1 pixels is too large' "an image over 65536 pixels per side is refused" -- \
    "$classify" "$models/vit-fmnist.safetensors" "$work/wide.png" "$images/sneaker.png" --top 1 --backend="$first"
grep -E -q '^ +[0-9.]+% +Sneaker' "$work/out" || fail "classify: the image after an oversize one did not run"
expect_stdout 1 'seg_canvas1-mask\.png' "segment --json: two images into a directory, one unreadable" -- \
    "$segment" --json "$models/segformer-fmnist.safetensors" "$images/seg_canvas1.png" "$work/text.png" \
    "$images/seg_canvas2.png" -o "$work/masks" --backend "$first"
json_check "segment --json: masks written for the readable images" \
    "[('mask' in i) for i in d['images']] == [True, False, True] and
     d['images'][2]['classes'][0]['pixels'] > 0 and 'error' in d['images'][1]"
for f in seg_canvas1 seg_canvas2; do
    [ -f "$work/masks/$f-mask.png" ] || fail "segment: $work/masks/$f-mask.png is missing"
done
expect_stdout 0 '"devices"' "xformer-devices --json" -- "$devices" --json
json_check "xformer-devices --json: every device with its rank" \
    "len(d['devices']) >= 1 and [x['rank'] for x in d['devices']] == list(range(len(d['devices']))) and
     all(isinstance(x['global_memory_bytes'], int) for x in d['devices'])"
expect_stdout 0 '"model"' "xformer-bench --model --json" -- \
    "$bench" --model "$models/vit-fmnist.safetensors" --backend cpu --reps 3 --json
json_check "xformer-bench --json: the model row" \
    "d['model']['results'][0]['backend'] == 'cpu' and d['model']['results'][0]['median_ms'] > 0 and
     d['model']['weights'] == 'stored' and d['model']['results'][0]['weight_mb'] > 0"

[ "$failures" -eq 0 ] && echo "all example checks passed" || echo "$failures example checks failed"
[ "$failures" -eq 0 ]
