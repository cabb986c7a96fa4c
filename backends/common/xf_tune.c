// SPDX-License-Identifier: MIT
// Tuning results (xf_tune.h). The file is a checked cache file (xf_cache.h) whose payload is one line
// per tuned kernel and shape: "KEY\tP0 P1 P2 P3\tMICROSECONDS". A file that fails its checks or does
// not parse is ignored and rewritten at the next result; each write merges what other processes
// wrote meanwhile and replaces the file atomically (at worst one result is tuned twice).
#include "xf_tune.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#include "xf_cache.h"

#define TUNE_MAGIC "XFTUNE01"

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static xf_tune_stats_t stats;

void xf_tune_stats(xf_tune_stats_t* out) {
    pthread_mutex_lock(&stats_lock);
    *out = stats;
    pthread_mutex_unlock(&stats_lock);
}

static void count(uint64_t* field, uint64_t n) {
    pthread_mutex_lock(&stats_lock);
    *field += n;
    pthread_mutex_unlock(&stats_lock);
}

static xf_tune_entry_t* find(const xf_tune_db_t* db, const char* key) {
    for (size_t i = 0; i < db->count; ++i) {
        if (strcmp(db->entries[i].key, key) == 0) return &db->entries[i];
    }
    return NULL;
}

static bool add(xf_tune_db_t* db, const xf_tune_entry_t* t) {
    xf_tune_entry_t* old = find(db, t->key);
    if (old) {
        *old = *t;
        return true;
    }
    if (db->count == db->capacity) {
        size_t cap = db->capacity ? 2 * db->capacity : 32;
        xf_tune_entry_t* grown = xf_realloc(db->entries, cap * sizeof *grown);
        if (!grown) return false;
        db->entries = grown;
        db->capacity = cap;
    }
    db->entries[db->count++] = *t;
    return true;
}

// Parses a payload into |out| (malloc'd); false if any line is malformed.
static bool parse(const char* text, size_t len, xf_tune_entry_t** out, size_t* out_count) {
    *out = NULL;
    *out_count = 0;
    size_t cap = 0;
    const char* end = text + len;
    for (const char* line = text; line < end;) {
        const char* nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl) break;
        xf_tune_entry_t t = {0};
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
            xf_tune_entry_t* grown = xf_realloc(*out, cap * sizeof *grown);
            if (!grown) goto bad;
            *out = grown;
        }
        (*out)[(*out_count)++] = t;
        line = nl + 1;
        continue;
    bad:
        xf_free(*out);
        *out = NULL;
        *out_count = 0;
        return false;
    }
    return true;
}

// Reads the device's tuning file into memory at open; before a write (|merging|) it adds only the
// entries other processes saved meanwhile.
static void read_file(xf_tune_db_t* db, bool merging) {
    size_t len = 0;
    bool invalid = false;
    char* payload = xf_cache_file_read(db->path, TUNE_MAGIC, db->key, &len, &invalid);
    xf_tune_entry_t* entries = NULL;
    size_t n = 0;
    if (payload && !parse(payload, len, &entries, &n)) invalid = true;
    xf_free(payload);
    if (invalid && !merging) count(&stats.rejects, 1);
    for (size_t i = 0; i < n; ++i) {
        if (merging && find(db, entries[i].key)) continue;
        if (add(db, &entries[i]) && !merging) count(&stats.loaded, 1);
    }
    xf_free(entries);
}

void xf_tune_open(xf_tune_db_t* db, const char* backend, const char* key) {
    memset(db, 0, sizeof *db);
    char dir[900];
    if (!xf_cache_dir(dir, sizeof dir)) return;
    snprintf(db->key, sizeof db->key, "%s|%s", backend, key);
    snprintf(db->path, sizeof db->path, "%s/tune-%s-%016llx.bin", dir, backend,
             (unsigned long long)xf_fnv1a(db->key, strlen(db->key), XF_FNV_SEED));
    read_file(db, false);
}

void xf_tune_close(xf_tune_db_t* db) {
    xf_free(db->entries);
    db->entries = NULL;
    db->count = db->capacity = 0;
}

bool xf_tune_find(const xf_tune_db_t* db, const char* key, int params[4]) {
    const xf_tune_entry_t* t = find(db, key);
    if (!t) return false;
    memcpy(params, t->params, sizeof t->params);
    return true;
}

void xf_tune_store(xf_tune_db_t* db, const char* key, const int params[4], double us) {
    xf_tune_entry_t t = {0};
    snprintf(t.key, sizeof t.key, "%s", key);
    memcpy(t.params, params, sizeof t.params);
    t.us = us;
    if (!add(db, &t)) return;
    count(&stats.tuned, 1);
    if (!db->path[0]) return;
    read_file(db, true);
    size_t cap = db->count * 128 + 1, len = 0;
    char* text = xf_malloc(cap);
    if (!text) return;
    for (size_t i = 0; i < db->count; ++i) {
        const xf_tune_entry_t* e = &db->entries[i];
        len += (size_t)snprintf(text + len, cap - len, "%s\t%d %d %d %d\t%.1f\n", e->key, e->params[0], e->params[1],
                                e->params[2], e->params[3], e->us);
    }
    if (xf_cache_file_write(db->path, TUNE_MAGIC, db->key, text, len)) count(&stats.writes, 1);
    xf_free(text);
}
