// SPDX-License-Identifier: MIT
// Host memory through the context's xf_allocator_t (see lib/backend.h).
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

// In front of every block: how to give it back, keeping max_align_t alignment for what follows.
typedef struct header_s {
    void* (*alloc_fn)(void* user_data, size_t size);
    void* (*realloc_fn)(void* user_data, void* ptr, size_t size);  // may be NULL
    void (*free_fn)(void* user_data, void* ptr);
    void* user_data;
    size_t size;
} header_t;

#define HEADER_SIZE ((sizeof(header_t) + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t))

static void* libc_alloc(void* user, size_t size) {
    (void)user;
    return malloc(size);
}

static void* libc_realloc(void* user, void* ptr, size_t size) {
    (void)user;
    return realloc(ptr, size);
}

static void libc_free(void* user, void* ptr) {
    (void)user;
    free(ptr);
}

static _Thread_local xf_allocator_t current;

void xf_alloc_use(const xf_allocator_t* a) {
    if (a && a->alloc && a->free) current = *a;
    else current = (xf_allocator_t){libc_alloc, libc_realloc, libc_free, NULL};
}

void* xf_malloc(size_t size) {
    if (!current.alloc) xf_alloc_use(NULL);
    if (size > SIZE_MAX - HEADER_SIZE) return NULL;
    header_t* h = current.alloc(current.user_data, HEADER_SIZE + (size ? size : 1));
    if (!h) return NULL;
    *h = (header_t){current.alloc, current.realloc, current.free, current.user_data, size};
    return (char*)h + HEADER_SIZE;
}

void* xf_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    void* p = xf_malloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void* xf_realloc(void* ptr, size_t size) {
    if (!ptr) return xf_malloc(size);
    if (size > SIZE_MAX - HEADER_SIZE) return NULL;
    header_t* h = (header_t*)((char*)ptr - HEADER_SIZE);
    header_t saved = *h;
    header_t* grown;
    if (saved.realloc_fn) {
        grown = saved.realloc_fn(saved.user_data, h, HEADER_SIZE + (size ? size : 1));
    } else {
        grown = saved.alloc_fn(saved.user_data, HEADER_SIZE + (size ? size : 1));
        if (grown) {
            memcpy(grown, h, HEADER_SIZE + (saved.size < size ? saved.size : size));
            saved.free_fn(saved.user_data, h);
        }
    }
    if (!grown) return NULL;
    grown->size = size;
    return (char*)grown + HEADER_SIZE;
}

void xf_free(void* ptr) {
    if (!ptr) return;
    header_t* h = (header_t*)((char*)ptr - HEADER_SIZE);
    header_t saved = *h;
    saved.free_fn(saved.user_data, h);
}

char* xf_strndup(const char* s, size_t n) {
    size_t len = strnlen(s, n);
    char* d = xf_malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char* xf_strdup(const char* s) { return xf_strndup(s, SIZE_MAX); }

void* xf_aligned_alloc(size_t align, size_t size) {
    if (size > SIZE_MAX - align - sizeof(void*)) return NULL;
    char* base = xf_malloc(size + align + sizeof(void*));
    if (!base) return NULL;
    uintptr_t p = ((uintptr_t)(base + sizeof(void*)) + align - 1) & ~(uintptr_t)(align - 1);
    ((void**)p)[-1] = base;
    return (void*)p;
}

void xf_aligned_free(void* ptr) {
    if (ptr) xf_free(((void**)ptr)[-1]);
}
