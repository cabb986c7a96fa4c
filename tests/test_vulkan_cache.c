// SPDX-License-Identifier: MIT
// Vulkan pipeline cache on disk: written on first use, reused, and a corrupted, truncated or foreign
// file is discarded (never handed to the driver) and rewritten; an unwritable directory disables it.
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "xformer.h"

static char cache_dir[256];

static void use_temp_cache(void) {
    snprintf(cache_dir, sizeof cache_dir, "/tmp/xf-vk-cache-XXXXXX");
    cr_assert_not_null(mkdtemp(cache_dir));
    setenv("XFORMER_CACHE_DIR", cache_dir, 1);
}

// Runs y = gelu(x * 2 + 1) on Vulkan and checks it; returns false when there is no device.
static bool run_once(void) {
    xf_context_options_t opt;
    xf_context_options_init(&opt);
    opt.backend = XF_BACKEND_VULKAN;
    opt.device = 0;
    xf_context_t* ctx = NULL;
    xf_status_t st = xf_context_create(&opt, &ctx);
    if (st == XF_ERR_UNAVAILABLE && !xf_test_backend_required(XF_BACKEND_VULKAN)) return false;
    cr_assert_eq(st, XF_OK, "%s", xf_last_error());
    xf_graph_t* g = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK, "%s", xf_context_error(ctx));
    xf_tensor_t *x = NULL, *y = NULL, *z = NULL;
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){3, 5}, &x), XF_OK);
    cr_assert_eq(xf_scale(g, x, 2.0f, 1.0f, &y), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_activation(g, y, XF_ACT_RELU, &z), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_mark_output(g, z), XF_OK);
    float in[15], out[15];
    for (int i = 0; i < 15; ++i) in[i] = (float)i - 7.0f;
    cr_assert_eq(xf_tensor_upload(x, in, sizeof in), XF_OK);
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_tensor_download(z, out, sizeof out), XF_OK);
    for (int i = 0; i < 15; ++i) {
        float want = in[i] * 2.0f + 1.0f;
        cr_assert_float_eq(out[i], want > 0 ? want : 0.0f, 1e-6f);
    }
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    return true;
}

// Returns the path of the single pipeline cache file in |cache_dir|, or "" if there is none.
static void cache_file(char* path, size_t size) {
    path[0] = 0;
    DIR* d = opendir(cache_dir);
    cr_assert_not_null(d);
    int count = 0;
    for (struct dirent* e; (e = readdir(d));) {
        if (strstr(e->d_name, ".pipelines") && !strstr(e->d_name, ".tmp")) {
            snprintf(path, size, "%s/%s", cache_dir, e->d_name);
            count++;
        }
    }
    closedir(d);
    cr_assert_leq(count, 1, "more than one cache file in %s", cache_dir);
}

static long read_file(const char* path, unsigned char* buf, long cap) {
    FILE* f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    long n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

static void write_file(const char* path, const unsigned char* buf, long n) {
    FILE* f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq((long)fwrite(buf, 1, (size_t)n, f), n);
    fclose(f);
}

static unsigned char good[1 << 22], now[1 << 22];

// Writes a valid cache, damages it with |damage|, and checks that a run still works and restores a
// file with a valid header.
static void check_recovers(void (*damage)(const char* path, long size)) {
    use_temp_cache();
    if (!run_once()) cr_skip_test("no Vulkan device");
    char path[512];
    cache_file(path, sizeof path);
    cr_assert(path[0], "no cache file was written to %s", cache_dir);
    long n = read_file(path, good, sizeof good);
    cr_assert_gt(n, 64);
    cr_assert_eq(memcmp(good, "XFVKPC01", 8), 0);
    damage(path, n);
    cr_assert(run_once());
    cache_file(path, sizeof path);
    long m = read_file(path, now, sizeof now);
    cr_assert_eq(memcmp(now, "XFVKPC01", 8), 0, "the damaged cache file was not rewritten");
    cr_assert_gt(m, 64);
    cr_assert(run_once());
}

static void corrupt_payload(const char* path, long n) {
    memcpy(now, good, (size_t)n);
    for (long i = 60; i < n; i += 7) now[i] ^= 0x5a;
    write_file(path, now, n);
}

static void truncate_half(const char* path, long n) { write_file(path, good, n / 2); }

static void foreign_device(const char* path, long n) {
    memcpy(now, good, (size_t)n);
    now[20] ^= 0xff;  // pipelineCacheUUID
    write_file(path, now, n);
}

static void garbage(const char* path, long n) {
    (void)n;
    write_file(path, (const unsigned char*)"not a cache", 11);
}

Test(vulkan_cache, written_and_reused) {
    use_temp_cache();
    if (!run_once()) cr_skip_test("no Vulkan device");
    char path[512];
    cache_file(path, sizeof path);
    cr_assert(path[0], "no cache file in %s", cache_dir);
    long n = read_file(path, good, sizeof good);
    struct stat before, after;
    cr_assert_eq(stat(path, &before), 0);
    cr_assert(run_once());
    long m = read_file(path, now, sizeof now);
    cr_assert_eq(n, m);
    cr_assert_eq(memcmp(good, now, (size_t)n), 0, "a warm run changed the cache");
    cr_assert_eq(stat(path, &after), 0);
    cr_assert_eq(before.st_ino, after.st_ino, "a warm run rewrote an unchanged cache file");
}

Test(vulkan_cache, corrupted_payload_rewritten) { check_recovers(corrupt_payload); }
Test(vulkan_cache, truncated_rewritten) { check_recovers(truncate_half); }
Test(vulkan_cache, other_device_rewritten) { check_recovers(foreign_device); }
Test(vulkan_cache, garbage_rewritten) { check_recovers(garbage); }

Test(vulkan_cache, unwritable_directory_disables_cache) {
    char file[] = "/tmp/xf-vk-notadir-XXXXXX";
    int fd = mkstemp(file);
    cr_assert_geq(fd, 0);
    close(fd);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/cache", file);  // below a regular file: cannot be created
    setenv("XFORMER_CACHE_DIR", dir, 1);
    if (!run_once()) cr_skip_test("no Vulkan device");
    struct stat st;
    cr_assert_neq(stat(dir, &st), 0);
    unlink(file);
}
