// SPDX-License-Identifier: MIT
// Drivers' own caches (PoCL's kernel cache, Mesa's shader cache) live in libxformer's cache directory, and
// a process that died while the driver compiled makes the next one clear that cache: here the cache is
// corrupted (PoCL aborts on a corrupted program.bc) and a marker of a dead process is left, and the next
// process must get a correct result and remove the marker. Each run is a fresh process, since drivers
// read their cache location once.
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

// Parameters are copied into another process: no pointers.
typedef struct {
    xf_backend_t backend;
    char env[32];
    char dir[16];
} driver_t;

static int corrupted;

static int corrupt_file(const char* path, const struct stat* sb, int flag, struct FTW* ftw) {
    (void)sb;
    (void)ftw;
    if (flag != FTW_F) return 0;
    FILE* f = fopen(path, "wb");
    if (f) {
        fputs("not what the driver wrote", f);
        corrupted += fclose(f) == 0;
    }
    return 0;
}

static int remove_entry(const char* path, const struct stat* sb, int flag, struct FTW* ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int run_child(xf_backend_t backend, uint64_t seed) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) _exit(xf_test_linear_child(backend, XF_TUNE_OFF, seed));
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ParameterizedTestParameters(driver_cache, cleared_after_a_build_that_died) {
    static driver_t drivers[] = {{XF_BACKEND_OPENCL, "POCL_CACHE_DIR", "pocl"},
                                 {XF_BACKEND_VULKAN, "MESA_SHADER_CACHE_DIR", "mesa"}};
    return cr_make_param_array(driver_t, drivers, sizeof drivers / sizeof drivers[0]);
}

ParameterizedTest(driver_t* d, driver_cache, cleared_after_a_build_that_died, .timeout = 600) {
    if (!xf_backend_compiled(d->backend)) cr_skip_test("%s is not compiled in", xf_backend_name(d->backend));
    char cache[] = "/tmp/xf-driver-cache-XXXXXX";
    cr_assert_not_null(mkdtemp(cache));
    setenv("XFORMER_CACHE_DIR", cache, 1);
    unsetenv(d->env);

    int code = run_child(d->backend, 1);
    if (code == XF_TEST_CHILD_NO_DEVICE) cr_skip_test("no %s device", xf_backend_name(d->backend));
    cr_assert_eq(code, 0, "the first run failed");
    char dir[512], marker[600];
    snprintf(dir, sizeof dir, "%s/driver/%s", cache, d->dir);
    corrupted = 0;
    nftw(dir, corrupt_file, 16, FTW_PHYS);
    cr_assert_gt(corrupted, 0, "%s wrote nothing to %s", xf_backend_name(d->backend), dir);

    pid_t dead = fork();
    cr_assert_neq(dead, -1);
    if (dead == 0) _exit(0);
    cr_assert_eq(waitpid(dead, NULL, 0), dead);
    snprintf(marker, sizeof marker, "%s/driver/%s.building.%ld", cache, d->dir, (long)dead);
    FILE* f = fopen(marker, "w");
    cr_assert_not_null(f);
    fclose(f);

    cr_expect_eq(run_child(d->backend, 2), 0, "the run after a build that died failed");
    cr_expect_neq(access(marker, F_OK), 0, "the dead process's marker is still there");
    nftw(cache, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
