// SPDX-License-Identifier: MIT
// OpenCL program cache: cold build, warm load, corrupted entries rebuilt, unwritable directory.
#define _XOPEN_SOURCE 700  // nftw
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../backends/opencl/cl_internal.h"
#include "harness.h"
#include "xformer.h"

static char cache_dir[256];

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_cache(void) {
    if (cache_dir[0]) nftw(cache_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void use_temp_cache(void) {
    snprintf(cache_dir, sizeof cache_dir, "/tmp/xf-cl-cache-XXXXXX");
    cr_assert_not_null(mkdtemp(cache_dir));
    setenv("XFORMER_CACHE_DIR", cache_dir, 1);
    atexit(remove_cache);
}

// The binary-cache tests write binaries at the first build (the default waits for a slow second one).
static void eager_cache(void) {
    use_temp_cache();
    xf_cl_cache_set_eager(true);
}

// Runs y = x * 2 + 1 on the OpenCL backend and checks it; returns false when there is no device.
static bool run_once(void) {
    xf_context_options_t opt;
    xf_context_options_init(&opt);
    opt.backend = XF_BACKEND_OPENCL;
    opt.device = 0;
    xf_context_t* ctx = NULL;
    xf_status_t st = xf_context_create(&opt, &ctx);
    if (st == XF_ERR_UNAVAILABLE && !xf_test_backend_required(XF_BACKEND_OPENCL)) return false;
    cr_assert_eq(st, XF_OK, "%s", xf_last_error());
    xf_graph_t* g = NULL;
    cr_assert_eq(xf_graph_create(ctx, &g), XF_OK, "%s", xf_context_error(ctx));
    xf_tensor_t *x = NULL, *y = NULL;
    cr_assert_eq(xf_graph_input(g, "x", XF_DTYPE_F32, 2, (int64_t[]){3, 5}, &x), XF_OK);
    cr_assert_eq(xf_scale(g, x, 2.0f, 1.0f, &y), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_graph_mark_output(g, y), XF_OK);
    float in[15], out[15];
    for (int i = 0; i < 15; ++i) in[i] = (float)i - 7.0f;
    cr_assert_eq(xf_tensor_upload(x, in, sizeof in), XF_OK);
    cr_assert_eq(xf_graph_compute(g), XF_OK, "%s", xf_context_error(ctx));
    cr_assert_eq(xf_tensor_download(y, out, sizeof out), XF_OK);
    for (int i = 0; i < 15; ++i) cr_assert_float_eq(out[i], in[i] * 2.0f + 1.0f, 1e-6f);
    xf_graph_destroy(g);
    xf_context_destroy(ctx);
    return true;
}

// Returns the path of the single file in |cache_dir| whose name starts with |prefix|.
static void single_file(const char* prefix, char* out, size_t cap) {
    DIR* d = opendir(cache_dir);
    cr_assert_not_null(d);
    int found = 0;
    for (struct dirent* e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".tmp") == NULL) {
            snprintf(out, cap, "%s/%s", cache_dir, e->d_name);
            ++found;
        }
    }
    closedir(d);
    cr_assert_eq(found, 1, "expected one %s* file in %s, found %d", prefix, cache_dir, found);
}

// The program cache file and the tuning file.
static void cache_file(char* out, size_t cap) { single_file("opencl-", out, cap); }
static void tune_file(char* out, size_t cap) { single_file("tune-opencl-", out, cap); }

Test(opencl_cache, first_build_leaves_a_marker_not_a_binary) {
    use_temp_cache();
    if (!run_once()) cr_skip_test("no OpenCL device");
    xf_cl_cache_stats_t s;
    xf_cl_cache_stats(&s);
    cr_expect_eq(s.builds, 1);
    cr_expect_eq(s.cache_marks, 1);
    cr_expect_eq(s.cache_writes, 0, "a binary was fetched on the first build");
    char path[512];
    cache_file(path, sizeof path);
    cr_assert(run_once());
    xf_cl_cache_stats(&s);
    cr_expect_eq(s.cache_rejects, 0, "the marker was taken for a corrupt file");
    cr_expect_eq(s.cache_marks, 1, "the marker was written twice");
}

Test(opencl_cache, cold_then_warm) {
    eager_cache();
    if (!run_once()) cr_skip_test("no OpenCL device");
    xf_cl_cache_stats_t s;
    xf_cl_cache_stats(&s);
    cr_expect_eq(s.builds, 1);
    cr_expect_eq(s.cache_hits, 0);
    cr_expect_eq(s.cache_writes, 1);
    char path[512];
    cache_file(path, sizeof path);
    cr_assert(run_once());
    xf_cl_cache_stats(&s);
    cr_expect_eq(s.builds, 1, "the warm run compiled again");
    cr_expect_eq(s.cache_hits, 1);
    cr_expect_eq(s.cache_rejects, 0);
}

static void corrupt_then_rerun(void (*corrupt)(const char* path)) {
    eager_cache();
    if (!run_once()) cr_skip_test("no OpenCL device");
    char path[512];
    cache_file(path, sizeof path);
    corrupt(path);
    cr_assert(run_once());
    xf_cl_cache_stats_t s;
    xf_cl_cache_stats(&s);
    cr_expect_eq(s.cache_rejects, 1);
    cr_expect_eq(s.builds, 2, "the corrupt entry was not rebuilt");
    cr_expect_eq(s.cache_writes, 2, "the corrupt entry was not rewritten");
    cr_assert(run_once());
    xf_cl_cache_stats(&s);
    cr_expect_eq(s.cache_hits, 1, "the rewritten entry was not used");
    cr_expect_eq(s.builds, 2);
}

static void truncate_half(const char* path) {
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size / 2), 0);
}

static void flip_bytes(const char* path) {
    FILE* f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    for (long at = size / 2; at < size / 2 + 8 && at < size; ++at) {
        fseek(f, at, SEEK_SET);
        int c = fgetc(f);
        fseek(f, at, SEEK_SET);
        fputc(c ^ 0x5a, f);
    }
    fclose(f);
}

static void clobber_header(const char* path) {
    FILE* f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fputs("garbage!", f);
    fclose(f);
}

Test(opencl_cache, truncated_entry_is_rebuilt) {
    corrupt_then_rerun(truncate_half);
}
Test(opencl_cache, flipped_bytes_are_rebuilt) {
    corrupt_then_rerun(flip_bytes);
}
Test(opencl_cache, bad_magic_is_rebuilt) {
    corrupt_then_rerun(clobber_header);
}

Test(opencl_cache, unwritable_dir_disables_caching) {
    setenv("XFORMER_CACHE_DIR", "/proc/xformer-cache-cannot-exist", 1);
    if (!run_once()) cr_skip_test("no OpenCL device");
    cr_assert(run_once());
    xf_cl_cache_stats_t s;
    xf_cl_cache_stats(&s);
    cr_expect_eq(s.builds, 2);
    cr_expect_eq(s.cache_writes, 0);
    cr_expect_eq(s.cache_hits, 0);
}

// Runs a linear layer with tuning |mode| and checks it; returns false when there is no device.
static bool run_linear(xf_tune_t mode) {
    xf_context_t* ctx = NULL;
    xf_status_t st = xf_test_create(XF_BACKEND_OPENCL, mode, &ctx);
    if (st == XF_ERR_UNAVAILABLE && !xf_test_backend_required(XF_BACKEND_OPENCL)) return false;
    cr_assert_eq(st, XF_OK, "%s", xf_last_error());
    xf_test_linear_rounds(ctx, 1, 7, NULL);
    xf_context_destroy(ctx);
    return true;
}

// Runs xf_test_tuning_child in |n| child processes at once (this process keeps no OpenCL state) and
// returns false when there is no device.
static bool tune_in_children(int n) {
    pid_t pids[4];
    for (int i = 0; i < n; ++i) {
        pids[i] = fork();
        cr_assert_neq(pids[i], -1);
        if (pids[i] == 0) _exit(xf_test_tuning_child(XF_BACKEND_OPENCL, 7));
    }
    int skipped = 0;
    for (int i = 0; i < n; ++i) {
        int status = 0;
        cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
        cr_assert(WIFEXITED(status), "a tuning process crashed");
        skipped += WEXITSTATUS(status) == XF_TEST_CHILD_NO_DEVICE;
        cr_assert(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == XF_TEST_CHILD_NO_DEVICE, "a tuning process did not tune and save");
    }
    return skipped == 0;
}

Test(opencl_tune, results_are_reloaded_by_another_process) {
    use_temp_cache();
    if (!tune_in_children(1)) cr_skip_test("no OpenCL device");
    cr_assert(run_linear(XF_TUNE_FAST));
    xf_tune_stats_t s;
    xf_tune_stats(&s);
    cr_expect_geq(s.loaded, 1, "the tuning file was not read");
    cr_expect_eq(s.tuned, 0, "a shape tuned by the first process was tuned again");
    cr_expect_eq(s.rejects, 0);
}

static void corrupt_tuning_then_rerun(void (*corrupt)(const char* path)) {
    use_temp_cache();
    if (!tune_in_children(1)) cr_skip_test("no OpenCL device");
    char path[512];
    tune_file(path, sizeof path);
    corrupt(path);
    cr_assert(run_linear(XF_TUNE_FAST));
    xf_tune_stats_t s;
    xf_tune_stats(&s);
    cr_expect_eq(s.rejects, 1, "the corrupt tuning file was not detected");
    cr_expect_eq(s.loaded, 0);
    cr_expect_geq(s.tuned, 1, "nothing was tuned again");
    cr_expect_geq(s.writes, 1, "the tuning file was not rewritten");
    uint64_t tuned = s.tuned;
    cr_assert(run_linear(XF_TUNE_FAST));
    xf_tune_stats(&s);
    cr_expect_eq(s.rejects, 1, "the rewritten tuning file was rejected");
    cr_expect_geq(s.loaded, 1, "the rewritten tuning file was not read");
    cr_expect_eq(s.tuned, tuned, "the rewritten results were tuned again");
}

Test(opencl_tune, truncated_file_is_rebuilt) {
    corrupt_tuning_then_rerun(truncate_half);
}
Test(opencl_tune, flipped_bytes_are_rebuilt) {
    corrupt_tuning_then_rerun(flip_bytes);
}

Test(opencl_tune, concurrent_tuners_leave_a_valid_file) {
    use_temp_cache();
    if (!tune_in_children(3)) cr_skip_test("no OpenCL device");
    cr_assert(run_linear(XF_TUNE_OFF));
    xf_tune_stats_t s;
    xf_tune_stats(&s);
    cr_expect_eq(s.rejects, 0, "concurrent tuners left a corrupt file");
    cr_expect_geq(s.loaded, 1);
    cr_expect_eq(s.tuned, 0);
}
