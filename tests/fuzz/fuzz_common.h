// SPDX-License-Identifier: MIT
// Shared by the libFuzzer harnesses: one CPU context for the process, model options with tight bounds
// (so one input costs milliseconds), and the seed models.
#ifndef XF_FUZZ_COMMON_H_
#define XF_FUZZ_COMMON_H_

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_model_common.c"
#include "xformer.h"

static __attribute__((unused)) xf_context_t* fuzz_context(void) {
    static xf_context_t* ctx;
    if (!ctx) {
        xf_context_options_t o;
        xf_context_options_init(&o);
        o.backend = XF_BACKEND_CPU;
        if (xf_context_create(&o, &ctx) != XF_OK) abort();
    }
    return ctx;
}

static __attribute__((unused)) void fuzz_model_options(xf_model_options_t* o) {
    xf_model_options_init(o);
    o->max_input_pixels = 128 * 128;
    o->max_tokens = 1024;
    o->max_bytes = 64 << 20;
}

// The seed models: a tiny ViT (plain and distilled, grey and RGB, with crop_pct) and a tiny SegFormer.
enum { FUZZ_SEEDS = 8 };
// Seeds 6 and 7: seeds 0 and 3 with int8 linear weights (per channel, blocks of 32).
static __attribute__((unused)) void fuzz_seed_model(int which, tm_file_t* f) {
    if (which >= 6) {
        fuzz_seed_model(which == 6 ? 0 : 3, f);
        tm_quantize(f, which == 6 ? 0 : 32, 0);
        return;
    }
    memset(f, 0, sizeof *f);
    if (which < 3) {
        const int distilled = which == 1, chans = which == 2 ? 3 : 1;
        snprintf(f->config, sizeof f->config,
                 "{\"architecture\":\"vit\",\"img_size\":32,\"patch_size\":8,\"in_chans\":%d,\"embed_dim\":8,"
                 "\"depth\":1,\"num_heads\":2,\"mlp_ratio\":4.0,\"num_classes\":3,\"distilled\":%s,"
                 "\"crop_pct\":%s,\"mean\":[%s],\"std\":[%s],\"labels\":[\"a\",\"b\",\"c\"]}",
                 chans, distilled ? "true" : "false", which == 2 ? "0.875" : "1.0",
                 chans == 3 ? "0.485,0.456,0.406" : "0.5", chans == 3 ? "0.229,0.224,0.225" : "0.25");
        tm_vit_tensors(f, 32, 8, chans, 8, 1, 3, distilled);
    } else if (which == 4) {
        tm_vit_every_variant(f);
    } else if (which == 5) {
        tm_vit_timm_config(f);
    } else {
        snprintf(f->config, sizeof f->config,
                 "{\"model_type\":\"segformer\",\"num_channels\":3,\"depths\":[1,1],\"sr_ratios\":[2,1],"
                 "\"hidden_sizes\":[4,8],\"patch_sizes\":[3,3],\"strides\":[4,2],\"num_attention_heads\":[1,2],"
                 "\"mlp_ratios\":[4,4],\"decoder_hidden_size\":8,\"image_size\":[40,48],"
                 "\"id2label\":{\"0\":\"bg\",\"1\":\"a\",\"2\":\"b\"}}");
        const int64_t dims[2] = {4, 8}, depths[2] = {1, 1}, sr[2] = {2, 1}, patch[2] = {3, 3};
        tm_segformer_tensors(f, 2, dims, depths, sr, patch, 3, 8, 3);
    }
}

#endif
