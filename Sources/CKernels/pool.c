#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include "CKernels.h"

// A fixed pool of worker threads that spin for a while after each job before they sleep.
// Why not Dispatch: waking a parked worker costs tens of microseconds on a VM, as much as half of
// a typical op of a quick step, and a step runs a parallel op every few tens of microseconds, so
// a worker that keeps spinning between them is nearly always awake. (OpenBLAS's own threads
// spin the same way; two spinning pools on two cores would fight, so OpenBLAS is set to one
// thread and GEMMs are split through this pool.)
//
// Protocol: a job is published into slot[id & 1], then `state` = id << 32 | next chunk. A thread
// claims chunk c by a compare-and-swap of (id, c) -> (id, c + 1), so a chunk runs exactly once and
// a thread still holding an older job id can claim nothing. A slot is rewritten only for job
// id + 2, after `state` has moved past id.

// Waits spin with `pause` for SPIN_PAUSE rounds, then yield the core between checks (a waiting
// thread that shares its core with the one it waits for must let it run), and a worker parks
// after SPIN_YIELD more rounds without work.
enum { MAX_WORKERS = 63, SPIN_PAUSE = 2000, SPIN_YIELD = 2000 };

typedef struct { ck_task_fn fn; void *ctx; uint64_t chunks; } Job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;  // held by the thread whose job runs
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int workers = 0;
static Job slots[2];
static _Atomic uint64_t state = 0;
static _Atomic uint64_t done_chunks = 0;
static uint64_t last_id = 0;  // the caller's side only
static _Thread_local int in_job = 0;  // a chunk that runs a parallel loop runs it inline

static inline void relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// Claims and runs chunks of job `id` until none are left or a newer job replaced it.
static void work(uint64_t id) {
    const Job *job = &slots[id & 1];
    const ck_task_fn fn = job->fn;
    void *const ctx = job->ctx;
    const uint64_t chunks = job->chunks;
    uint64_t s = atomic_load(&state);
    while ((s >> 32) == (id & 0xFFFFFFFFu) && (s & 0xFFFFFFFFu) < chunks) {
        if (atomic_compare_exchange_weak(&state, &s, s + 1)) {
            in_job = 1;
            fn(ctx, (long)(s & 0xFFFFFFFFu));
            in_job = 0;
            atomic_fetch_add(&done_chunks, 1);
            s = atomic_load(&state);
        }
    }
}

static void *worker(void *arg) {
    (void)arg;
    uint64_t seen = atomic_load(&state) >> 32;
    for (;;) {
        int spins = 0;
        while ((atomic_load(&state) >> 32) == seen) {
            if (++spins < SPIN_PAUSE) { relax(); continue; }
            if (spins < SPIN_PAUSE + SPIN_YIELD) { sched_yield(); continue; }
            pthread_mutex_lock(&mu);
            while ((atomic_load(&state) >> 32) == seen) pthread_cond_wait(&wake, &mu);
            pthread_mutex_unlock(&mu);
        }
        seen = atomic_load(&state) >> 32;
        work(seen);
    }
    return 0;
}

void ck_pool_init(int threads) {
    pthread_mutex_lock(&mu);
    while (workers < threads - 1 && workers < MAX_WORKERS) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&t, &attr, worker, 0);
        pthread_attr_destroy(&attr);
        if (failed) break;
        workers++;
    }
    pthread_mutex_unlock(&mu);
}

// One job at a time. The backend's ops run one after another on one thread; a second thread
// that calls while a job runs (two backends used from two threads) runs its loop inline.
void ck_pool_run(ck_task_fn fn, void *ctx, long chunks) {
    if (chunks <= 1 || workers == 0 || in_job || pthread_mutex_trylock(&owner) != 0) {
        for (long c = 0; c < chunks; c++) fn(ctx, c);
        return;
    }
    const uint64_t id = (last_id + 1) & 0xFFFFFFFFu;
    last_id = id;
    slots[id & 1] = (Job){fn, ctx, (uint64_t)chunks};
    atomic_store(&done_chunks, 0);
    pthread_mutex_lock(&mu);
    atomic_store(&state, id << 32);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    work(id);
    for (int spins = 0; atomic_load(&done_chunks) < (uint64_t)chunks; spins++) {
        if (spins < SPIN_PAUSE) relax(); else sched_yield();
    }
    pthread_mutex_unlock(&owner);
}
