// SPDX-License-Identifier: MIT
// Separate contexts created, used and destroyed from several threads at once, on every backend
// column: drivers' device enumeration is not thread-safe, so libxformer serialises it.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

enum { THREADS = 8, ROUNDS = 50 };

typedef struct {
    const xf_test_column_t* col;
    pthread_barrier_t* start;
    int index;
    bool skipped;
    char why[320];
} worker_t;

static void* worker(void* arg) {
    worker_t* w = arg;
    pthread_barrier_wait(w->start);
    for (int round = 0; round < ROUNDS; ++round) {
        xf_context_t* ctx = NULL;
        bool skip = false;
        char why[256];
        if (!xf_test_open(w->col, &ctx, &skip, why, sizeof why)) {
            w->skipped = skip;
            if (!skip) snprintf(w->why, sizeof w->why, "thread %d, round %d: creating the context: %s", w->index,
                                round, why);
            return NULL;
        }
        bool ok = xf_test_linear_ok(ctx, 1, (uint64_t)(w->index * ROUNDS + round + 1), NULL, why, sizeof why);
        xf_context_destroy(ctx);
        if (!ok) {
            snprintf(w->why, sizeof w->why, "thread %d, round %d: %s", w->index, round, why);
            return NULL;
        }
    }
    return NULL;
}

ParameterizedTestParameters(threads, contexts_from_eight_threads) { return xf_test_column_params(); }

ParameterizedTest(int* index, threads, contexts_from_eight_threads, .timeout = 900) {
    // The first use of each driver happens in the threads.
    const xf_test_column_t col = xf_test_base_column(*index, "how contexts are made");
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t threads[THREADS];
    worker_t workers[THREADS];
    for (int i = 0; i < THREADS; ++i) {
        workers[i] = (worker_t){.col = &col, .start = &start, .index = i};
        cr_assert_eq(pthread_create(&threads[i], NULL, worker, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);
    if (workers[0].skipped) cr_skip_test("no %s device", col.name);
    for (int i = 0; i < THREADS; ++i) cr_expect_eq(workers[i].why[0], '\0', "[%s] %s", col.name, workers[i].why);
}
