// SPDX-License-Identifier: MIT
// xformer-accuracy: runs the Fashion-MNIST test set through a classifier, or the held-out synthetic
// canvases through a segmenter, on each backend and prints the accuracy (mean IoU), the agreement
// with the first backend and the throughput.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

#define PROG "xformer-accuracy"

static const char synopsis[] = "usage: " PROG " [OPTION]... MODEL\n";

static void usage(void) {
    printf("%s\n"
           "Classifier: classifies the Fashion-MNIST test set (DIR/t10k-images-idx3-ubyte.gz and\n"
           "t10k-labels-idx1-ubyte.gz, default " FMNIST_DIR ")\n"
           "and prints the accuracy.\n"
           "Segmenter: segments the canvases DIR/canvases-images-idx3-ubyte.gz against the label masks\n"
           "DIR/canvases-masks-idx3-ubyte.gz (tools/segsynth.py DIR writes the held-out set) and prints\n"
           "the mean IoU over all classes, background included.\n"
           "Each backend of LIST (comma-separated cpu,opencl,vulkan; default: every compiled backend)\n"
           "runs MODEL preprocessed exactly like xformer-classify / xformer-segment; the agreement column\n"
           "is the share of predictions (pixels for a segmenter) equal to the first backend's.\n"
           "\n"
           "Options:\n"
           "  --data DIR         the data set's directory\n"
           "  --limit N          only the first N images\n"
           "  --backends LIST    the backends to run, in this order\n"
           "  --weights KIND     linear-layer weights on the device: stored (as in the file, the default),\n"
           "                     f16, f32, int8-channel or int8-block32 (quantized at load)\n"
           "  -h, --help         print this help and exit\n"
           "  -V, --version      print the version and exit\n"
           "\n"
           "Exit status: 0 success, 1 a failure (on any backend), 2 a usage error.\n",
           synopsis);
}

// Reads a gzip'd IDX file; returns the payload after the header and fills dims.
static uint8_t* read_idx(const char* path, int want_dims, uint32_t* dims, size_t* count) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        fprintf(stderr, PROG ": cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t head[4 + 4 * 3];
    int hlen = 4 + 4 * want_dims;
    if (gzread(gz, head, (unsigned)hlen) != hlen || head[0] || head[1] || head[2] != 0x08 ||
        head[3] != want_dims) {
        fprintf(stderr, PROG ": %s is not an IDX file of %d-D unsigned bytes\n", path, want_dims);
        gzclose(gz);
        return NULL;
    }
    size_t n = 1;
    for (int i = 0; i < want_dims; i++) {
        const uint8_t* p = head + 4 + 4 * i;
        dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        n *= dims[i];
    }
    uint8_t* data = malloc(n ? n : 1);
    if (!data || gzread(gz, data, (unsigned)n) != (int)n) {
        fprintf(stderr, PROG ": %s is truncated\n", path);
        free(data);
        gzclose(gz);
        return NULL;
    }
    gzclose(gz);
    *count = n;
    return data;
}

typedef struct dataset_s {
    uint8_t* images;  // n images of h x w grey bytes
    uint8_t* labels;  // classifier: n class indices; segmenter: n masks of h x w class indices
    size_t n;
    int h, w;
} dataset_t;

static bool load_dataset(const char* dir, bool segmenter, dataset_t* d) {
    char ipath[1024], lpath[1024];
    snprintf(ipath, sizeof ipath, "%s/%s", dir,
             segmenter ? "canvases-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz");
    snprintf(lpath, sizeof lpath, "%s/%s", dir,
             segmenter ? "canvases-masks-idx3-ubyte.gz" : "t10k-labels-idx1-ubyte.gz");
    uint32_t idims[3], ldims[3];
    size_t icount, lcount;
    d->images = read_idx(ipath, 3, idims, &icount);
    d->labels = d->images ? read_idx(lpath, segmenter ? 3 : 1, ldims, &lcount) : NULL;
    if (!d->labels) return false;
    if (ldims[0] != idims[0] || (segmenter && (ldims[1] != idims[1] || ldims[2] != idims[2]))) {
        fprintf(stderr, PROG ": %s and %s do not match in size\n", ipath, lpath);
        return false;
    }
    d->n = idims[0];
    d->h = (int)idims[1];
    d->w = (int)idims[2];
    return true;
}

typedef struct score_s {
    double metric;  // accuracy or mean IoU, in [0, 1]
    size_t agree, compared, done;
} score_t;

// Classifies |d| on |model|; |pred| gets one class per image, compared with |first| when given.
static xf_status_t eval_classifier(xf_model_t* model, const xf_model_info_t* info, const dataset_t* d, size_t n,
                                   int32_t* pred, const int32_t* first, float* input, score_t* out) {
    float* logits = malloc((size_t)info->output_elements * sizeof(float));
    if (!logits) return XF_ERR_OUT_OF_MEMORY;
    size_t correct = 0;
    xf_status_t st = XF_OK;
    for (size_t i = 0; i < n && st == XF_OK; i++) {
        st = xf_model_preprocess(model, d->images + i * (size_t)(d->h * d->w), d->w, d->h, 1, input,
                                 (size_t)info->input_elements);
        if (st == XF_OK)
            st = xf_model_run(model, input, (size_t)info->input_elements, logits, (size_t)info->output_elements);
        if (st != XF_OK) break;
        int32_t best = 0;
        for (int32_t k = 1; k < (int32_t)info->classes; k++)
            if (logits[k] > logits[best]) best = k;
        pred[i] = best;
        correct += best == d->labels[i];
        if (first) out->agree += best == first[i];
        out->done++;
    }
    out->compared = first ? out->done : 0;
    out->metric = (double)correct / (double)(out->done ? out->done : 1);
    free(logits);
    return st;
}

// Segments |d| on |model| and scores the masks by IoU per class, accumulated over the whole set.
static xf_status_t eval_segmenter(xf_model_t* model, const xf_model_info_t* info, const dataset_t* d, size_t n,
                                  int32_t* pred, const int32_t* first, float* input, score_t* out) {
    const size_t px = (size_t)(d->h * d->w);
    const int64_t nc = info->classes;
    double* inter = calloc((size_t)nc, sizeof(double));
    double* uni = calloc((size_t)nc, sizeof(double));
    xf_status_t st = inter && uni ? XF_OK : XF_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < n && st == XF_OK; i++) {
        st = xf_model_preprocess(model, d->images + i * px, d->w, d->h, 1, input, (size_t)info->input_elements);
        if (st == XF_OK) st = xf_model_run(model, input, (size_t)info->input_elements, NULL, 0);
        if (st == XF_OK) st = xf_model_mask(model, pred + i * px, px);
        if (st != XF_OK) break;
        const uint8_t* truth = d->labels + i * px;
        for (size_t j = 0; j < px; j++) {
            int32_t p = pred[i * px + j], t = truth[j];
            if (p == t) {
                inter[p] += 1;
                uni[p] += 1;
            } else {
                uni[p] += 1;
                if (t < nc) uni[t] += 1;
            }
            if (first) out->agree += p == first[i * px + j];
        }
        out->done++;
    }
    out->compared = first ? out->done * px : 0;
    double sum = 0;
    for (int64_t c = 0; c < nc; c++) sum += uni[c] > 0 ? inter[c] / uni[c] : 0;
    out->metric = sum / (double)nc;
    free(inter);
    free(uni);
    return st;
}

typedef struct options_s {
    const char* model_path;
    const char* dir;
    const char* backends;
    long limit;
    xf_model_weights_t weights;
} options_t;

// Returns -1 to go on, else the exit status.
static int parse_args(int argc, char** argv, options_t* o) {
    enum { OPT_DATA = 256, OPT_LIMIT, OPT_BACKENDS, OPT_WEIGHTS };
    static const struct option longopts[] = {
        {"data", required_argument, NULL, OPT_DATA},         {"limit", required_argument, NULL, OPT_LIMIT},
        {"backends", required_argument, NULL, OPT_BACKENDS}, {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"help", no_argument, NULL, 'h'},                    {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    *o = (options_t){0};
    static const char shortopts[] = ":hV";
    int c;
    while ((c = ex_getopt(argc, argv, shortopts, longopts)) != -1) {
        switch (c) {
            case OPT_DATA: o->dir = optarg; break;
            case OPT_BACKENDS: o->backends = optarg; break;
            case OPT_WEIGHTS: {
                int w = ex_parse_word(optarg, ex_weights_words, EX_WEIGHTS_COUNT);
                if (w < 0) return ex_usage_error(PROG, NULL, "--weights takes " EX_WEIGHTS_HELP ", not '%s'", optarg);
                o->weights = (xf_model_weights_t)w;
                break;
            }
            case OPT_LIMIT:
                if (!ex_parse_int(optarg, 1, LONG_MAX, &o->limit))
                    return ex_usage_error(PROG, NULL, "--limit needs a positive integer, got '%s'", optarg);
                break;
            default: return ex_common_option(PROG, usage, c, argv, shortopts);
        }
    }
    if (o->backends) {
        char list[256], *save = NULL;
        if ((size_t)snprintf(list, sizeof list, "%s", o->backends) >= sizeof list)
            return ex_usage_error(PROG, NULL, "--backends: the list is too long");
        xf_backend_t b;
        int count = 0;
        for (char* tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save), count++)
            if (!ex_parse_backend(tok, &b))
                return ex_usage_error(PROG, NULL, "unknown backend '%s' in --backends (cpu, opencl, vulkan)", tok);
        if (count == 0) return ex_usage_error(PROG, NULL, "--backends needs at least one backend");
    }
    if (optind >= argc) return ex_usage_error(PROG, synopsis, "missing MODEL");
    if (optind + 1 < argc)
        return ex_usage_error(PROG, synopsis, "one MODEL at a time ('%s' is extra)", argv[optind + 1]);
    o->model_path = argv[optind];
    return -1;
}

int main(int argc, char** argv) {
    options_t o;
    int prc = parse_args(argc, argv, &o);
    if (prc >= 0) return prc;
    const char *model_path = o.model_path, *dir = o.dir, *backends = o.backends;
    const long limit = o.limit;

    char list[256];
    if (backends) {
        snprintf(list, sizeof list, "%s", backends);
    } else {
        list[0] = '\0';
        const xf_backend_t all[] = {XF_BACKEND_CPU, XF_BACKEND_OPENCL, XF_BACKEND_VULKAN};
        for (int i = 0; i < 3; i++)
            if (xf_backend_compiled(all[i]))
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? "," : "",
                         xf_backend_name(all[i]));
    }
    dataset_t data = {0};
    bool segmenter = false;
    size_t n = 0, per_image = 1;
    int32_t *first = NULL, *pred = NULL;
    int rc = 0;
    bool have_first = false;
    char* save = NULL;
    for (char* tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        xf_backend_t b;
        if (!ex_parse_backend(tok, &b)) {
            fprintf(stderr, PROG ": unknown backend '%s'\n", tok);
            rc = 1;
            continue;
        }
        xf_context_t* ctx = ex_context(b, PROG);
        if (!ctx) {
            rc = 1;
            continue;
        }
        xf_device_info_t dev;
        xf_context_device_info(ctx, &dev);
        xf_model_t* model;
        xf_model_options_t mo;
        xf_model_options_init(&mo);
        mo.weights = o.weights;
        if (xf_model_load(ctx, model_path, &mo, &model) != XF_OK) {
            fprintf(stderr, PROG ": %s\n", xf_context_error(ctx));
            xf_context_destroy(ctx);
            rc = 1;
            break;
        }
        xf_model_info_t info;
        xf_model_info(model, &info);
        if (!data.images) {
            segmenter = info.task == XF_MODEL_TASK_SEGMENTATION;
            if (segmenter && !dir) {
                rc = ex_usage_error(PROG, NULL, "a segmenter needs --data DIR with the held-out canvases "
                                    "(tools/segsynth.py DIR writes them)");
            } else if (!load_dataset(dir ? dir : FMNIST_DIR, segmenter, &data)) {
                rc = 1;
            }
            if (rc) {
                ex_close_model(model);
                break;
            }
            n = limit && (size_t)limit < data.n ? (size_t)limit : data.n;
            per_image = segmenter ? (size_t)(data.h * data.w) : 1;
            first = malloc(n * per_image * sizeof(int32_t));
            pred = malloc(n * per_image * sizeof(int32_t));
            printf("%s: %zu images of %dx%d, model %s\n",
                   segmenter ? "held-out canvases" : "Fashion-MNIST test set", n, data.w, data.h, model_path);
            printf("%-8s %-40s %9s %10s %10s\n", "backend", "device", segmenter ? "mean IoU" : "accuracy",
                   "agreement", "images/s");
        }
        if ((info.task == XF_MODEL_TASK_SEGMENTATION) != segmenter ||
            (!segmenter && info.classes != 10) ||
            (segmenter && (info.input_height != data.h || info.input_width != data.w))) {
            fprintf(stderr, PROG ": %s does not fit this data (a 10-class classifier, or a segmenter "
                    "whose input size is the canvases')\n", model_path);
            ex_close_model(model);
            rc = 1;
            break;
        }
        float* input = malloc((size_t)info.input_elements * sizeof(float));
        score_t score = {0};
        double t0 = ex_now_ms();
        const int32_t* ref = have_first ? first : NULL;
        xf_status_t st = !input || !first || !pred ? XF_ERR_OUT_OF_MEMORY
                         : segmenter ? eval_segmenter(model, &info, &data, n, pred, ref, input, &score)
                                     : eval_classifier(model, &info, &data, n, pred, ref, input, &score);
        double secs = (ex_now_ms() - t0) / 1e3;
        if (st != XF_OK) {
            fprintf(stderr, PROG ": %s: image %zu: %s\n", tok, score.done, xf_context_error(ctx));
            rc = 1;
        }
        char agreement[32] = "-";
        if (score.compared)
            snprintf(agreement, sizeof agreement, "%.*f%%", segmenter ? 4 : 2,
                     100.0 * (double)score.agree / (double)score.compared);
        if (segmenter)
            printf("%-8s %-40.40s %9.4f %10s %10.1f\n", tok, dev.name, score.metric, agreement,
                   (double)score.done / secs);
        else
            printf("%-8s %-40.40s %8.2f%% %10s %10.1f\n", tok, dev.name, 100.0 * score.metric, agreement,
                   (double)score.done / secs);
        fflush(stdout);
        if (!have_first && st == XF_OK && score.done == n) {
            memcpy(first, pred, n * per_image * sizeof(int32_t));
            have_first = true;
        }
        free(input);
        ex_close_model(model);
    }
    free(first);
    free(pred);
    free(data.images);
    free(data.labels);
    return rc;
}
