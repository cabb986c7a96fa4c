// SPDX-License-Identifier: MIT
// Kernel-parameter tuning results of one OpenCL device: a table in memory and one cache file per
// (device, driver, platform, kernel sources). The file is a checked cache file (xf_cache.h) whose
// payload is one line per tuned kernel and shape: "KEY\tP0 P1 P2 P3\tMICROSECONDS". A file that fails
// its checks or does not parse is ignored and rewritten at the next result; each write merges what
// other processes wrote meanwhile and replaces the file atomically, so concurrent tuners never leave
// a torn file (at worst one result is tuned twice).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/xf_cache.h"
#include "cl_internal.h"
#include "embedded.h"

extern const xf_embedded_file_t xf_cl_kernels[];

#define TUNE_MAGIC "XFCLTUN1"

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static xf_cl_tune_stats_t stats;

void xf_cl_tune_stats(xf_cl_tune_stats_t* out) {
    pthread_mutex_lock(&stats_lock);
    *out = stats;
    pthread_mutex_unlock(&stats_lock);
}

static void count(uint64_t* field, uint64_t n) {
    pthread_mutex_lock(&stats_lock);
    *field += n;
    pthread_mutex_unlock(&stats_lock);
}

static xf_cl_tuned_t* find(xf_device_t* dev, const char* key) {
    for (size_t i = 0; i < dev->tuned_count; ++i) {
        if (strcmp(dev->tuned[i].key, key) == 0) return &dev->tuned[i];
    }
    return NULL;
}

static bool add(xf_device_t* dev, const xf_cl_tuned_t* t) {
    xf_cl_tuned_t* old = find(dev, t->key);
    if (old) {
        *old = *t;
        return true;
    }
    if (dev->tuned_count == dev->tuned_capacity) {
        size_t cap = dev->tuned_capacity ? 2 * dev->tuned_capacity : 32;
        xf_cl_tuned_t* grown = realloc(dev->tuned, cap * sizeof *grown);
        if (!grown) return false;
        dev->tuned = grown;
        dev->tuned_capacity = cap;
    }
    dev->tuned[dev->tuned_count++] = *t;
    return true;
}

// Parses a payload into |out| (malloc'd); false if any line is malformed.
static bool parse(const char* text, size_t len, xf_cl_tuned_t** out, size_t* out_count) {
    *out = NULL;
    *out_count = 0;
    size_t cap = 0;
    const char* end = text + len;
    for (const char* line = text; line < end;) {
        const char* nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl) break;
        xf_cl_tuned_t t = {0};
        char buf[256];
        size_t n = (size_t)(nl - line);
        if (n >= sizeof buf) goto bad;
        memcpy(buf, line, n);
        buf[n] = '\0';
        char* tab = strchr(buf, '\t');
        if (!tab || (size_t)(tab - buf) >= sizeof t.key || tab == buf) goto bad;
        memcpy(t.key, buf, (size_t)(tab - buf));
        int used = 0;
        if (sscanf(tab + 1, "%d %d %d %d\t%lf%n", &t.params[0], &t.params[1], &t.params[2], &t.params[3], &t.us,
                   &used) != 5 ||
            tab[1 + used] != '\0' || !(t.us >= 0)) {
            goto bad;
        }
        if (*out_count == cap) {
            cap = cap ? 2 * cap : 32;
            xf_cl_tuned_t* grown = realloc(*out, cap * sizeof *grown);
            if (!grown) goto bad;
            *out = grown;
        }
        (*out)[(*out_count)++] = t;
        line = nl + 1;
        continue;
    bad:
        free(*out);
        *out = NULL;
        *out_count = 0;
        return false;
    }
    return true;
}

// Reads the device's tuning file into memory at open; before a write (|merging|) it adds only the
// entries other processes saved meanwhile.
static void read_file(xf_device_t* dev, bool merging) {
    size_t len = 0;
    bool invalid = false;
    char* payload = xf_cache_file_read(dev->tune_path, TUNE_MAGIC, dev->tune_key, &len, &invalid);
    xf_cl_tuned_t* entries = NULL;
    size_t n = 0;
    if (payload && !parse(payload, len, &entries, &n)) invalid = true;
    free(payload);
    if (invalid && !merging) count(&stats.rejects, 1);
    for (size_t i = 0; i < n; ++i) {
        if (merging && find(dev, entries[i].key)) continue;
        if (add(dev, &entries[i]) && !merging) count(&stats.loaded, 1);
    }
    free(entries);
}

void xf_cl_tune_open(xf_device_t* dev) {
    dev->tune_path[0] = '\0';
    char dir[900];
    if (!xf_cache_dir(dir, sizeof dir)) return;
    uint64_t sources = XF_FNV_SEED;
    for (const xf_embedded_file_t* f = xf_cl_kernels; f->name; ++f) {
        sources = xf_fnv1a(f->name, strlen(f->name), sources);
        sources = xf_fnv1a(f->data, f->size, sources);
    }
    snprintf(dev->tune_key, sizeof dev->tune_key, "%s|%s|%s|%016llx", dev->info.name, dev->info.driver_version,
             dev->platform_version, (unsigned long long)sources);
    snprintf(dev->tune_path, sizeof dev->tune_path, "%s/tune-opencl-%016llx.bin", dir,
             (unsigned long long)xf_fnv1a(dev->tune_key, strlen(dev->tune_key), XF_FNV_SEED));
    read_file(dev, false);
}

void xf_cl_tune_close(xf_device_t* dev) {
    free(dev->tuned);
    dev->tuned = NULL;
    dev->tuned_count = dev->tuned_capacity = 0;
}

bool xf_cl_tune_find(xf_device_t* dev, const char* key, int params[4]) {
    const xf_cl_tuned_t* t = find(dev, key);
    if (!t) return false;
    memcpy(params, t->params, sizeof t->params);
    return true;
}

void xf_cl_tune_store(xf_device_t* dev, const char* key, const int params[4], double us) {
    xf_cl_tuned_t t = {0};
    snprintf(t.key, sizeof t.key, "%s", key);
    memcpy(t.params, params, sizeof t.params);
    t.us = us;
    if (!add(dev, &t)) return;
    count(&stats.tuned, 1);
    if (!dev->tune_path[0]) return;
    read_file(dev, true);
    size_t cap = dev->tuned_count * 128 + 1, len = 0;
    char* text = malloc(cap);
    if (!text) return;
    for (size_t i = 0; i < dev->tuned_count; ++i) {
        const xf_cl_tuned_t* e = &dev->tuned[i];
        len += (size_t)snprintf(text + len, cap - len, "%s\t%d %d %d %d\t%.1f\n", e->key, e->params[0], e->params[1],
                                e->params[2], e->params[3], e->us);
    }
    if (xf_cache_file_write(dev->tune_path, TUNE_MAGIC, dev->tune_key, text, len)) count(&stats.writes, 1);
    free(text);
}
