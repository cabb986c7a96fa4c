// SPDX-License-Identifier: MIT
// nftw
#define _XOPEN_SOURCE 700
#include "xf_driver_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xf_cache.h"

static int remove_entry(const char* path, const struct stat* sb, int flag, struct FTW* ftw) {
    (void)sb;
    (void)flag;
    if (ftw->level > 0) remove(path);
    return 0;
}

static bool process_is_gone(long pid) { return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH; }

// Clears the cache once for every marker left by a process that no longer exists.
static void clear_after_dead_builds(xf_driver_cache_t* c, const char* parent) {
    DIR* d = opendir(parent);
    if (!d) return;
    char prefix[64];
    int plen = snprintf(prefix, sizeof prefix, "%s.building.", c->name);
    bool stale = false;
    for (struct dirent* e = readdir(d); e; e = readdir(d)) {
        if (strncmp(e->d_name, prefix, (size_t)plen) != 0) continue;
        char* end = NULL;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (*end || !process_is_gone(pid)) continue;
        char path[sizeof c->marker];
        if (snprintf(path, sizeof path, "%s/%s", parent, e->d_name) < (int)sizeof path && unlink(path) == 0)
            stale = true;
    }
    closedir(d);
    if (!stale) return;
    nftw(c->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    c->clears++;
}

void xf_driver_cache_init(xf_driver_cache_t* c) {
    pthread_mutex_lock(&c->lock);
    const char* set = getenv(c->env);
    char parent[480];
    if ((!set || !*set) && xf_cache_dir(parent, sizeof parent - 8)) {
        strcat(parent, "/driver");
        int n = snprintf(c->dir, sizeof c->dir, "%s/%s", parent, c->name);
        if (n > 0 && (size_t)n < sizeof c->dir && (mkdir(parent, 0755) == 0 || errno == EEXIST) &&
            (mkdir(c->dir, 0755) == 0 || errno == EEXIST) && setenv(c->env, c->dir, 0) == 0) {
            c->owned = true;
            clear_after_dead_builds(c, parent);
            snprintf(c->marker, sizeof c->marker, "%s/%s.building.", parent, c->name);
        }
    }
    pthread_mutex_unlock(&c->lock);
}

void xf_driver_cache_begin(xf_driver_cache_t* c) {
    pthread_mutex_lock(&c->lock);
    if (c->owned && c->depth++ == 0) {
        char path[sizeof c->marker + 24];
        snprintf(path, sizeof path, "%s%ld", c->marker, (long)getpid());
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) close(fd);
    }
    pthread_mutex_unlock(&c->lock);
}

void xf_driver_cache_end(xf_driver_cache_t* c) {
    pthread_mutex_lock(&c->lock);
    if (c->owned && c->depth > 0 && --c->depth == 0) {
        char path[sizeof c->marker + 24];
        snprintf(path, sizeof path, "%s%ld", c->marker, (long)getpid());
        unlink(path);
    }
    pthread_mutex_unlock(&c->lock);
}
