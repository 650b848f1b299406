// Fork-aware locks (see DescentSupport.h).
//
// A lock is one 32-bit futex word: 0 when free, otherwise (owner process tag << 2) | state, state
// 1 = locked, 2 = locked and someone may be waiting (Drepper's "Futexes are tricky", mutex 2, with
// the owner's process in the upper bits). The process tag is the process id, cached, and renewed
// in the child after fork(). A lock word holding another process's tag can only be a lock that a
// thread of the parent held at the instant of fork(): no thread of this process will ever release
// it, so acquiring it reports DSUPPORT_LOCK_STALE instead of waiting forever.
//
// Process-wide locks (the handle table, the worker pool's) are also taken by the pthread_atfork
// prepare handler, so no thread holds them while fork() copies the process; the parent releases
// them afterwards and the child resets them (its copies are "held" by the forking thread).
#include "DescentSupport.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic uint32_t process_tag;

uint32_t dsupport_process_tag(void) {
    uint32_t tag = atomic_load_explicit(&process_tag, memory_order_relaxed);
    if (tag == 0) {
        tag = (uint32_t)getpid() & 0x3FFFFFFFu;  // Linux pids are below 2^22
        atomic_store_explicit(&process_tag, tag, memory_order_relaxed);
    }
    return tag;
}

// The word is declared plain uint32_t in the header (Swift cannot import _Atomic fields); every
// access here goes through this view of it.
static inline _Atomic uint32_t *atomic_word(dsupport_lock *lock) { return (_Atomic uint32_t *)&lock->word; }

static void futex_wait(_Atomic uint32_t *word, uint32_t expected) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake_one(_Atomic uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

int dsupport_lock_acquire(dsupport_lock *lock) {
    uint32_t mine = dsupport_process_tag() << 2;
    uint32_t seen = 0;
    if (atomic_compare_exchange_strong_explicit(atomic_word(lock), &seen, mine | 1u, memory_order_acquire,
                                                memory_order_relaxed)) {
        return 0;
    }
    for (;;) {
        if (seen == 0) {
            // Free again: take it, conservatively marked "waiters" (another may still sleep).
            if (atomic_compare_exchange_weak_explicit(atomic_word(lock), &seen, mine | 2u, memory_order_acquire,
                                                      memory_order_relaxed)) {
                return 0;
            }
            continue;
        }
        if ((seen >> 2) != (mine >> 2)) return DSUPPORT_LOCK_STALE;
        if ((seen & 3u) != 2u) {
            uint32_t marked = (seen & ~3u) | 2u;
            if (!atomic_compare_exchange_weak_explicit(atomic_word(lock), &seen, marked, memory_order_relaxed,
                                                       memory_order_relaxed)) {
                continue;
            }
            seen = marked;
        }
        futex_wait(atomic_word(lock), seen);
        seen = atomic_load_explicit(atomic_word(lock), memory_order_relaxed);
    }
}

void dsupport_lock_release(dsupport_lock *lock) {
    uint32_t previous = atomic_exchange_explicit(atomic_word(lock), 0, memory_order_release);
    if ((previous & 3u) == 2u) futex_wake_one(atomic_word(lock));
}

// ---- process-wide locks and fork() ------------------------------------------------------------

static dsupport_lock process_locks[DSUPPORT_PROCESS_LOCK_COUNT];

dsupport_lock *dsupport_process_lock(int which) {
    if (which < 0 || which >= DSUPPORT_PROCESS_LOCK_COUNT) return NULL;
    return &process_locks[which];
}

static void *_Atomic worker_pool;

void *dsupport_worker_pool(void) { return atomic_load_explicit(&worker_pool, memory_order_acquire); }

void dsupport_set_worker_pool(void *pool) { atomic_store_explicit(&worker_pool, pool, memory_order_release); }

// Defined by the C ABI layer (DescentC) when it is linked in: finishes the lazy initialization of
// the Swift globals a child needs (a one-time initializer interrupted by fork() would never
// complete in the child). Weak: the Swift core's own tests link without it.
extern void dsupport_fork_prepare_swift(void) __attribute__((weak));

static void before_fork(void) {
    if (dsupport_fork_prepare_swift) dsupport_fork_prepare_swift();
    for (int i = 0; i < DSUPPORT_PROCESS_LOCK_COUNT; i++) {
        (void)dsupport_lock_acquire(&process_locks[i]);  // never stale: reset in every child
    }
}

static void after_fork_in_parent(void) {
    for (int i = DSUPPORT_PROCESS_LOCK_COUNT - 1; i >= 0; i--) dsupport_lock_release(&process_locks[i]);
}

static void after_fork_in_child(void) {
    atomic_store_explicit(&process_tag, (uint32_t)getpid() & 0x3FFFFFFFu, memory_order_relaxed);
    // The forking thread (the only one here) holds every process-wide lock; nobody waits on them.
    for (int i = 0; i < DSUPPORT_PROCESS_LOCK_COUNT; i++) {
        atomic_store_explicit(atomic_word(&process_locks[i]), 0, memory_order_relaxed);
    }
}

__attribute__((constructor)) static void install_fork_handlers(void) {
    (void)dsupport_process_tag();
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}
