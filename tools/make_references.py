"""Write the PyTorch reference outputs in tests/data/ (see docs/TRAINING.md).

  tests/data/vit-fmnist-refs.safetensors        "<file>.input", "<file>.logits" for the classifier samples
  tests/data/segformer-fmnist-refs.safetensors  "<file>.input", "<file>.logits", "<file>.mask" (I32 [h,w])
  tests/data/deit_tiny_ref.safetensors          hash-init timm deit_tiny_patch16_224: "input", "logits"
  tests/data/segformer_b0_ref.safetensors       hash-init SegFormer-B0 (150 labels) at 128x128: "input", "logits"
  tests/data/deit_tiny_config.json, tests/data/segformer_b0_config.json   configs of the two standard models
  tests/data/vit_variants_ref.safetensors       hash-init small timm ViTs, one per variant timm ships (LayerScale,
                                                average pooling with and without fc_norm, no class token, registers,
                                                qk_norm, tanh/quick GELU, norm_pre): "input", "<variant>.logits";
                                                __metadata__ has each variant's config and tensor shapes, and the
                                                model keys timm's VisionTransformer and transformers' SegformerConfig
                                                take (the loader must understand or refuse every one)
  tests/data/pil_preprocess_refs.safetensors    timm's and Hugging Face's evaluation transforms (Pillow resize,
                                                torchvision CenterCrop) on synthetic images: "<case>.image" (I32
                                                HxWxC), "<case>.want" (F32 [C,H,W], mean 0 and std 1);
                                                __metadata__ "<case>.config" is the libxformer config
  tests/data/hf_dirs_ref.safetensors            hash-init Hugging Face ViT / DeiT / SegFormer models as directories users
                                                have: "input", "<model>.logits", "<model>.image" (I32 HxWxC) and
                                                "<model>.pixels" (the image processor's output); __metadata__ has
                                                each model's config.json, preprocessor_config.json and tensor shapes
  tests/data/timm_dirs_ref.safetensors          hash-init timm models shrunk through model_args, as timm's
                                                push_to_hf_hub saves their config.json: "input", "<model>.logits",
                                                "<model>.image", "<model>.pixels" (timm's eval transform);
                                                __metadata__ has each config.json and the tensor shapes
Extra "debug.*" tensors are intermediate activations (for locating a mismatch); "<file>" is the image's file name
(e.g. "sneaker.png"); __metadata__["images"] lists the files in order.
Run with the venv python (timm + transformers): `.../xf-venv/bin/python tools/make_references.py [--only KIND]`.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hashinit  # noqa: E402
import preprocess  # noqa: E402
import xfsafetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "examples", "images")
DATA = os.path.join(ROOT, "tests", "data")
MODELS = os.path.join(ROOT, "models")

CLASSIFIER_IMAGES = ["sneaker.png", "ankle_boot.png", "trouser.png", "bag.png", "pullover.png", "dress.png",
                     "coat_rgb_96x80.png"]
SEGMENTER_IMAGES = ["seg_canvas1.png", "seg_canvas2.png", "seg_canvas3_rgb_96.png"]

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def vit_from_config(cfg):
    from timm.models.vision_transformer import VisionTransformer
    return VisionTransformer(img_size=cfg["img_size"], patch_size=cfg["patch_size"], in_chans=cfg["in_chans"],
                             embed_dim=cfg["embed_dim"], depth=cfg["depth"], num_heads=cfg["num_heads"],
                             mlp_ratio=cfg["mlp_ratio"], qkv_bias=cfg["qkv_bias"], num_classes=cfg["num_classes"],
                             class_token=cfg.get("class_token", True), global_pool="token")


def segformer_from_config(cfg):
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    keys = ["num_channels", "depths", "sr_ratios", "hidden_sizes", "patch_sizes", "strides", "num_attention_heads",
            "mlp_ratios", "decoder_hidden_size", "num_labels", "layer_norm_eps"]
    return SegformerForSemanticSegmentation(SegformerConfig(**{k: cfg[k] for k in keys}))


def load_state(model, path):
    ts, meta = xfsafetensors.load(path)
    sd = {k: torch.from_numpy(v) for k, v in ts.items()}
    model.load_state_dict(sd, strict=True)
    return json.loads(meta["config"])


def segment(model, x):
    logits = model(pixel_values=torch.from_numpy(x)).logits
    up = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return logits, up.argmax(1)[0].to(torch.int32)


@torch.no_grad()
def vit_fmnist_refs():
    path = os.path.join(MODELS, "vit-fmnist.safetensors")
    cfg = json.loads(xfsafetensors.load(path)[1]["config"])
    model = vit_from_config(cfg).eval()
    load_state(model, path)
    out = {}
    for f in CLASSIFIER_IMAGES:
        x = preprocess.classifier_input(preprocess.load_image(os.path.join(IMAGES, f)), cfg)
        logits = model(torch.from_numpy(x))
        out[f + ".input"] = x
        out[f + ".logits"] = logits
        print(f"  {f}: input {list(x.shape)} -> {cfg['labels'][int(logits.argmax())]}")
    dst = os.path.join(DATA, "vit-fmnist-refs.safetensors")
    xfsafetensors.save(dst, out, {"images": json.dumps(CLASSIFIER_IMAGES), "model": "models/vit-fmnist.safetensors"})
    print(f"wrote {dst}")


@torch.no_grad()
def segformer_fmnist_refs():
    path = os.path.join(MODELS, "segformer-fmnist.safetensors")
    cfg = json.loads(xfsafetensors.load(path)[1]["config"])
    model = segformer_from_config(cfg).eval()
    load_state(model, path)
    out = {}
    for f in SEGMENTER_IMAGES:
        x = preprocess.segmenter_input(preprocess.load_image(os.path.join(IMAGES, f)), cfg)
        logits, mask = segment(model, x)
        out[f + ".input"] = x
        out[f + ".logits"] = logits
        out[f + ".mask"] = mask
        present = sorted(set(mask.reshape(-1).tolist()))
        print(f"  {f}: input {list(x.shape)} logits {list(logits.shape)} classes {[cfg['labels'][c] for c in present]}")
    dst = os.path.join(DATA, "segformer-fmnist-refs.safetensors")
    xfsafetensors.save(dst, out, {"images": json.dumps(SEGMENTER_IMAGES),
                                  "model": "models/segformer-fmnist.safetensors"})
    print(f"wrote {dst}")


def write_config(name, cfg):
    with open(os.path.join(DATA, name), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")


@torch.no_grad()
def deit_tiny_ref():
    import timm
    torch.manual_seed(0)
    model = timm.create_model("deit_tiny_patch16_224", pretrained=False).eval()
    hashinit.init_module(model)
    pc = model.pretrained_cfg
    cfg = {"architecture": "vit", "img_size": 224, "patch_size": 16, "in_chans": 3, "embed_dim": 192, "depth": 12,
           "num_heads": 3, "mlp_ratio": 4.0, "qkv_bias": True, "num_classes": 1000, "class_token": True,
           "distilled": False, "norm_eps": 1e-6, "mean": list(pc.get("mean", IMAGENET_MEAN)),
           "std": list(pc.get("std", IMAGENET_STD)), "crop_pct": pc.get("crop_pct", 0.875)}
    ref = vit_from_config(cfg).eval()
    assert set(ref.state_dict()) == set(model.state_dict()), "config does not reproduce deit_tiny_patch16_224"
    x = hashinit.input_tensor((1, 3, 224, 224))
    acts = {}
    hooks = [model.patch_embed.register_forward_hook(lambda m, i, o: acts.__setitem__("debug.patch_embed", o)),
             model.blocks[0].register_forward_hook(lambda m, i, o: acts.__setitem__("debug.block0", o)),
             model.norm.register_forward_hook(lambda m, i, o: acts.__setitem__("debug.norm", o))]
    logits = model(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    out = {"input": x, "logits": logits, **acts}
    dst = os.path.join(DATA, "deit_tiny_ref.safetensors")
    xfsafetensors.save(dst, out, {"config": json.dumps(cfg), "model": "timm deit_tiny_patch16_224, hash init",
                                  "timm": timm.__version__, "torch": torch.__version__})
    write_config("deit_tiny_config.json", cfg)
    print(f"wrote {dst}: logits[:4] {logits[0, :4].tolist()} argmax {int(logits.argmax())}")


@torch.no_grad()
def segformer_b0_ref():
    import transformers
    from transformers import SegformerConfig
    d = SegformerConfig()
    cfg = {"architecture": "segformer", "num_channels": d.num_channels, "depths": d.depths, "sr_ratios": d.sr_ratios,
           "hidden_sizes": d.hidden_sizes, "patch_sizes": d.patch_sizes, "strides": d.strides,
           "num_attention_heads": d.num_attention_heads, "mlp_ratios": d.mlp_ratios,
           "decoder_hidden_size": d.decoder_hidden_size, "num_labels": 150, "layer_norm_eps": d.layer_norm_eps,
           "image_size": [128, 128], "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    torch.manual_seed(0)
    model = segformer_from_config(cfg).eval()
    hashinit.init_module(model)
    x = hashinit.input_tensor((1, 3, 128, 128))
    res = model(pixel_values=torch.from_numpy(x), output_hidden_states=True)
    out = {"input": x, "logits": res.logits}
    for i, h in enumerate(res.hidden_states):
        out[f"debug.stage{i}"] = h
    dst = os.path.join(DATA, "segformer_b0_ref.safetensors")
    xfsafetensors.save(dst, out, {"config": json.dumps(cfg), "model": "transformers SegFormer-B0 config, hash init",
                                  "transformers": transformers.__version__, "torch": torch.__version__})
    write_config("segformer_b0_config.json", cfg)
    print(f"wrote {dst}: logits {list(res.logits.shape)} [0,:4,0,0] {res.logits[0, :4, 0, 0].tolist()}")


# name -> (timm VisionTransformer keyword arguments, the same in libxformer's config where they differ)
VIT_VARIANTS = {
    "layer_scale": ({"init_values": 1e-5}, {}),
    "avg_fc_norm": ({"global_pool": "avg", "class_token": False}, {}),
    "avg_no_fc_norm": ({"global_pool": "avg", "fc_norm": False}, {}),
    "deit3": ({"no_embed_class": True, "init_values": 1e-6}, {}),
    "registers": ({"reg_tokens": 4, "no_embed_class": True}, {}),
    "registers_embed_class": ({"reg_tokens": 2}, {}),
    "qk_norm": ({"qk_norm": True}, {}),
    "gelu_tanh": ({"act_layer": "gelu_tanh"}, {}),
    "clip": ({"act_layer": "quick_gelu", "pre_norm": True, "norm_layer": "layernorm_eps5"},
             {"norm_eps": 1e-5, "norm_layer": "layernorm"}),
}


@torch.no_grad()
def vit_variants_ref():
    import functools
    import inspect

    import timm
    import transformers
    from timm.models.vision_transformer import VisionTransformer
    from transformers import PretrainedConfig, SegformerConfig
    base = {"img_size": 32, "patch_size": 8, "in_chans": 3, "embed_dim": 48, "depth": 2, "num_heads": 3,
            "mlp_ratio": 2.0, "num_classes": 10}
    x = hashinit.input_tensor((1, 3, 32, 32))
    out = {"input": x}
    meta = {"variants": json.dumps(list(VIT_VARIANTS)), "timm": timm.__version__,
            "transformers": transformers.__version__, "torch": torch.__version__}
    for name, (kwargs, overrides) in VIT_VARIANTS.items():
        args = dict(base, **kwargs)
        if args.get("norm_layer") == "layernorm_eps5":
            args["norm_layer"] = functools.partial(torch.nn.LayerNorm, eps=1e-5)
        torch.manual_seed(0)
        model = VisionTransformer(**args).eval()
        hashinit.init_module(model)
        logits = model(torch.from_numpy(x))
        cfg = {"architecture": "vit", "norm_eps": 1e-6, **base, **kwargs, **overrides}
        out[name + ".logits"] = logits
        meta[name + ".config"] = json.dumps(cfg)
        meta[name + ".tensors"] = json.dumps({k: list(v.shape) for k, v in model.state_dict().items()})
        print(f"  {name}: {len(model.state_dict())} tensors, logits {[round(v, 3) for v in logits[0].tolist()]}")
    vit_keys = [k for k in inspect.signature(VisionTransformer.__init__).parameters if k != "self"]
    seg_keys = sorted(set(SegformerConfig().to_dict()) - set(PretrainedConfig().to_dict()))
    meta["timm_vit_keys"] = json.dumps(vit_keys)
    meta["hf_segformer_keys"] = json.dumps(seg_keys)
    dst = os.path.join(DATA, "vit_variants_ref.safetensors")
    xfsafetensors.save(dst, out, meta)
    print(f"wrote {dst}")


# name -> (image height, width, channels, libxformer config fields)
PIL_CASES = {
    "vit_bicubic_crop": (37, 53, 3, {"architecture": "vit", "img_size": 32, "in_chans": 3, "crop_pct": 0.875,
                                     "interpolation": "bicubic"}),
    "vit_bilinear_tall": (90, 20, 3, {"architecture": "vit", "img_size": 32, "in_chans": 3, "crop_pct": 1.0,
                                      "interpolation": "bilinear"}),
    "vit_bicubic_rgba_down": (100, 77, 4, {"architecture": "vit", "img_size": 24, "in_chans": 3, "crop_pct": 0.9,
                                           "interpolation": "bicubic"}),
    "vit_grey_model_rgb": (64, 48, 3, {"architecture": "vit", "img_size": 24, "in_chans": 1, "crop_pct": 0.9,
                                       "interpolation": "bicubic"}),
    "vit_grey_image_up": (12, 10, 1, {"architecture": "vit", "img_size": 32, "in_chans": 3, "crop_pct": 0.95,
                                      "interpolation": "bicubic"}),
    "vit_rect": (50, 61, 3, {"architecture": "vit", "img_size": [32, 24], "in_chans": 3, "crop_pct": 0.95,
                             "interpolation": "bicubic"}),
    "vit_pad": (45, 38, 3, {"architecture": "vit", "img_size": 40, "in_chans": 3, "crop_pct": 1.2,
                            "interpolation": "bicubic"}),
    "vit_same_size": (32, 32, 3, {"architecture": "vit", "img_size": 32, "in_chans": 3, "crop_pct": 1.0,
                                  "interpolation": "bicubic"}),
    "segformer_bilinear": (57, 43, 3, {"architecture": "segformer", "image_size": [32, 40],
                                       "interpolation": "bilinear"}),
    "segformer_bicubic_up": (20, 25, 3, {"architecture": "segformer", "image_size": [32, 40],
                                         "interpolation": "bicubic"}),
}


def pil_preprocess_refs():
    import timm
    import transformers
    from PIL import Image
    from timm.data import create_transform
    from transformers import SegformerImageProcessor
    rng = np.random.RandomState(7)
    out, meta = {}, {"cases": json.dumps(list(PIL_CASES)), "timm": timm.__version__,
                     "transformers": transformers.__version__}
    for name, (h, w, c, cfg) in PIL_CASES.items():
        # Smooth gradients plus noise: resampling errors show, and the values span 0..255.
        yy, xx = np.mgrid[0:h, 0:w]
        base = (yy * 255.0 / max(h - 1, 1) + xx * 97.0 / max(w - 1, 1))[:, :, None] * np.ones((1, 1, c))
        img = np.clip(base % 256 + rng.randint(-40, 41, size=(h, w, c)), 0, 255).astype(np.uint8)
        pil = Image.fromarray(img[:, :, 0] if c == 1 else img, {1: "L", 3: "RGB", 4: "RGBA"}[c])
        interp = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}[cfg["interpolation"]]
        if cfg["architecture"] == "vit":
            chans = cfg["in_chans"]
            size = cfg["img_size"]
            t = create_transform(input_size=(chans, *(size if isinstance(size, list) else [size, size])),
                                 interpolation=cfg["interpolation"], crop_pct=cfg["crop_pct"], mean=(0.0,) * chans,
                                 std=(1.0,) * chans)
            if isinstance(size, list) and size[0] != size[1]:
                # timm 0.9 builds ResizeKeepRatio for a non-square input without the interpolation (always
                # bilinear); libxformer honours the config's.
                from timm.data.transforms import ResizeKeepRatio
                t.transforms[0] = ResizeKeepRatio(t.transforms[0].size, interpolation=cfg["interpolation"])
            want = t(pil.convert("L" if chans == 1 else "RGB")).numpy()
            cfg = dict(cfg, patch_size=8, embed_dim=8, depth=1, num_heads=2, num_classes=3, mean=[0.0], std=[1.0])
        else:
            hh, ww = cfg["image_size"]
            proc = SegformerImageProcessor(size={"height": hh, "width": ww}, resample=interp, image_mean=[0.0] * 3,
                                           image_std=[1.0] * 3, do_reduce_labels=False)
            want = proc(pil.convert("RGB"), return_tensors="np")["pixel_values"][0]
            cfg = dict(cfg, num_channels=3, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32], patch_sizes=[7, 3],
                       strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[4, 4], decoder_hidden_size=24,
                       num_labels=150, mean=[0.0], std=[1.0])
        out[name + ".image"] = img.astype(np.int32)  # safetensors U8 is not read by libxformer
        out[name + ".want"] = want.astype(np.float32)
        meta[name + ".config"] = json.dumps(cfg)
        print(f"  {name}: image {img.shape} -> {list(want.shape)}")
    dst = os.path.join(DATA, "pil_preprocess_refs.safetensors")
    xfsafetensors.save(dst, out, meta)
    print(f"wrote {dst}")


# name -> (config class, model class, config fields, image processor class, processor fields)
HF_DIRS = {
    "hf_vit": ("ViTConfig", "ViTForImageClassification", {}, "ViTImageProcessor", {"size": {"height": 32, "width": 32}}),
    "hf_vit_gelu_new": ("ViTConfig", "ViTForImageClassification", {"hidden_act": "gelu_new", "qkv_bias": False},
                        "ViTImageProcessor", {"size": {"height": 32, "width": 32}, "resample": 3,
                                              "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}),
    "hf_deit": ("DeiTConfig", "DeiTForImageClassification", {}, "DeiTImageProcessor",
                {"size": {"height": 37, "width": 37}, "crop_size": {"height": 32, "width": 32}}),
    "hf_deit_teacher": ("DeiTConfig", "DeiTForImageClassificationWithTeacher", {}, "DeiTImageProcessor",
                        {"size": {"height": 36, "width": 41}, "crop_size": {"height": 32, "width": 32}, "resample": 2}),
    "hf_segformer": ("SegformerConfig", "SegformerForSemanticSegmentation", {}, "SegformerImageProcessor",
                     {"size": {"height": 32, "width": 32}}),
    "hf_swin": ("SwinConfig", "SwinForImageClassification", {}, "ViTImageProcessor",
                {"size": {"height": 32, "width": 32}, "resample": 3}),
}
HF_SWIN_BASE = {"image_size": 32, "patch_size": 2, "embed_dim": 16, "depths": [2, 2], "num_heads": [2, 4],
                "window_size": 4, "num_labels": 6}
HF_SEGFORMER_BASE = {"hidden_sizes": [16, 32], "depths": [1, 1], "num_encoder_blocks": 2, "sr_ratios": [2, 1],
                     "num_attention_heads": [1, 2], "patch_sizes": [7, 3], "strides": [4, 2], "mlp_ratios": [4, 4],
                     "decoder_hidden_size": 24, "num_labels": 5}


@torch.no_grad()
def hf_dirs_ref():
    import transformers
    from PIL import Image
    base = {"hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 3, "intermediate_size": 80,
            "image_size": 32, "patch_size": 8, "num_labels": 10}
    x = hashinit.input_tensor((1, 3, 32, 32))
    rng = np.random.RandomState(11)
    out = {"input": x}
    meta = {"models": json.dumps(list(HF_DIRS)), "transformers": transformers.__version__, "torch": torch.__version__}
    vit_keys = sorted(set(transformers.ViTConfig().to_dict()) - set(transformers.PretrainedConfig().to_dict()))
    meta["hf_vit_keys"] = json.dumps(vit_keys)
    meta["hf_swin_keys"] = json.dumps(sorted(set(transformers.SwinConfig().to_dict()) -
                                             set(transformers.PretrainedConfig().to_dict())))
    for name, (cfg_cls, model_cls, fields, proc_cls, proc_fields) in HF_DIRS.items():
        bases = {"SegformerConfig": HF_SEGFORMER_BASE, "SwinConfig": HF_SWIN_BASE}
        cfg = getattr(transformers, cfg_cls)(**bases.get(cfg_cls, base), **fields)
        cfg.architectures = [model_cls]
        torch.manual_seed(0)
        model = getattr(transformers, model_cls)(cfg).eval()
        hashinit.init_module(model)
        logits = model(pixel_values=torch.from_numpy(x)).logits
        out[name + ".logits"] = logits
        if name == "hf_vit":
            # At another size, with transformers' own position-embedding interpolation.
            x2 = hashinit.input_tensor((1, 3, 48, 40), name="input_48x40")
            out["input_48x40"] = x2
            out[name + ".logits_48x40"] = model(pixel_values=torch.from_numpy(x2), interpolate_pos_encoding=True).logits
        meta[name + ".config"] = cfg.to_json_string(use_diff=True)
        meta[name + ".tensors"] = json.dumps({k: list(v.shape) for k, v in model.state_dict().items()})
        proc = getattr(transformers, proc_cls)(**proc_fields)
        meta[name + ".processor"] = proc.to_json_string()
        img = rng.randint(0, 256, size=(45, 59, 3)).astype(np.uint8)
        img[:, :, 1] = np.linspace(0, 255, 59).astype(np.uint8)[None, :]
        out[name + ".image"] = img.astype(np.int32)
        out[name + ".pixels"] = proc(Image.fromarray(img), return_tensors="np")["pixel_values"][0].astype(np.float32)
        print(f"  {name}: {len(model.state_dict())} tensors, logits[:3] {logits[0, :3].tolist()}")
    dst = os.path.join(DATA, "hf_dirs_ref.safetensors")
    xfsafetensors.save(dst, out, meta)
    print(f"wrote {dst}")


TIMM_DIRS = ["vit_base_patch16_224.augreg2_in21k_ft_in1k", "deit3_small_patch16_224.fb_in1k",
             "vit_base_patch16_clip_quickgelu_224.openai", "vit_base_patch16_reg4_gap_256",
             "deit_tiny_distilled_patch16_224.fb_in1k", "swin_tiny_patch4_window7_224.ms_in1k"]
TIMM_SMALL = {"vit": {"embed_dim": 48, "depth": 2, "num_heads": 3, "img_size": 32, "patch_size": 8},
              "swin": {"embed_dim": 24, "depths": [2, 2], "num_heads": [2, 4], "window_size": 4, "img_size": 32,
                       "patch_size": 2}}


@torch.no_grad()
def timm_dirs_ref():
    import pathlib
    import tempfile

    import timm
    from PIL import Image
    from timm.models._hub import save_config_for_hf
    x = hashinit.input_tensor((1, 3, 32, 32))
    rng = np.random.RandomState(5)
    out = {"input": x}
    meta = {"models": json.dumps(TIMM_DIRS), "timm": timm.__version__, "torch": torch.__version__}
    for name in TIMM_DIRS:
        small = TIMM_SMALL["swin" if name.startswith("swin") else "vit"]
        torch.manual_seed(0)
        model = timm.create_model(name, pretrained=False, num_classes=10, **small,
                                  pretrained_cfg_overlay={"input_size": (3, 32, 32)}).eval()
        hashinit.init_module(model)
        logits = model(torch.from_numpy(x))
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "config.json"
            save_config_for_hf(model, path, model_args=dict(small))
            meta[name + ".config"] = path.read_text()
        meta[name + ".tensors"] = json.dumps({k: list(v.shape) for k, v in model.state_dict().items()})
        transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
        img = rng.randint(0, 256, size=(41, 50, 3)).astype(np.uint8)
        img[:, :, 0] = np.linspace(0, 255, 41).astype(np.uint8)[:, None]
        out[name + ".logits"] = logits
        out[name + ".image"] = img.astype(np.int32)
        out[name + ".pixels"] = transform(Image.fromarray(img)).numpy().astype(np.float32)
        print(f"  {name}: {len(model.state_dict())} tensors, logits[:3] {logits[0, :3].tolist()}")
    dst = os.path.join(DATA, "timm_dirs_ref.safetensors")
    xfsafetensors.save(dst, out, meta)
    print(f"wrote {dst}")


# name -> timm SwinTransformer keyword arguments (and the same as libxformer's flat config)
SWIN_MODELS = {
    "swin_small_windows": {"img_size": 32, "patch_size": 2, "embed_dim": 24, "depths": [2, 2], "num_heads": [2, 4],
                           "window_size": 4, "num_classes": 10},
    "swin_padded_windows": {"img_size": 32, "patch_size": 2, "embed_dim": 24, "depths": [2, 2], "num_heads": [2, 3],
                            "window_size": 5, "num_classes": 10, "mlp_ratio": 2.0},
    "swin_three_stages": {"img_size": [32, 48], "patch_size": 2, "embed_dim": 16, "depths": [1, 2, 2],
                          "num_heads": [1, 2, 4], "window_size": 4, "num_classes": 7, "qkv_bias": False},
    # An 8x24 grid under window 12: timm clamps the window to 8x12 and shifts along W only.
    "swin_oblong_windows": {"img_size": [16, 48], "patch_size": 2, "embed_dim": 16, "depths": [2, 2],
                            "num_heads": [2, 2], "window_size": 12, "num_classes": 5},
    # timm's swin_tiny_patch4_window7_224 at its own size (28 M parameters).
    "swin_tiny_patch4_window7_224": {"img_size": 224, "patch_size": 4, "embed_dim": 96, "depths": [2, 2, 6, 2],
                                     "num_heads": [3, 6, 12, 24], "window_size": 7, "num_classes": 1000},
}


@torch.no_grad()
def swin_ref():
    import inspect

    import timm
    from timm.models.swin_transformer import SwinTransformer
    out = {}
    meta = {"models": json.dumps(list(SWIN_MODELS)), "timm": timm.__version__, "torch": torch.__version__}
    for name, args in SWIN_MODELS.items():
        size = args["img_size"] if isinstance(args["img_size"], list) else [args["img_size"]] * 2
        torch.manual_seed(0)
        model = SwinTransformer(**args).eval()
        hashinit.init_module(model)
        x = hashinit.input_tensor((1, 3, *size), name=name + ".input")
        logits = model(torch.from_numpy(x))
        out[name + ".input"] = x
        out[name + ".logits"] = logits
        meta[name + ".config"] = json.dumps({"architecture": "swin", **args})
        meta[name + ".tensors"] = json.dumps({k: list(v.shape) for k, v in model.state_dict().items()})
        print(f"  {name}: {len(model.state_dict())} tensors, logits[:3] {logits[0, :3].tolist()}")
    meta["timm_swin_keys"] = json.dumps([k for k in inspect.signature(SwinTransformer.__init__).parameters
                                         if k not in ("self", "kwargs")])
    dst = os.path.join(DATA, "swin_ref.safetensors")
    xfsafetensors.save(dst, out, meta)
    print(f"wrote {dst}")


def main():
    kinds = {"vit-fmnist": vit_fmnist_refs, "segformer-fmnist": segformer_fmnist_refs, "deit-tiny": deit_tiny_ref,
             "segformer-b0": segformer_b0_ref, "vit-variants": vit_variants_ref, "pil-preprocess": pil_preprocess_refs,
             "hf-dirs": hf_dirs_ref, "timm-dirs": timm_dirs_ref,
             "swin": swin_ref}
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=sorted(kinds), action="append")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(DATA, exist_ok=True)
    for k in args.only or kinds:
        kinds[k]()


if __name__ == "__main__":
    main()
