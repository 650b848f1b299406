/* Shared plumbing of the stress programs (Tests/stress/stress_*.c, run by scripts/stress.sh): child
 * processes with a time limit, a scratch folder, counts with thousands separators, and the one
 * summary line each program prints last:  "stress: <figure>: <numbers> (<seconds> s)".
 * Tests/c/test_reliability.c (make test) uses the same plumbing.
 * Built without sanitizers (their allocators defeat the address-space limits and fork tricks). */
#ifndef DESCENT_STRESS_H
#define DESCENT_STRESS_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "descent.h"

static __attribute__((unused)) double stress_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* "1,024,000": one of 8 rotating buffers, so several fit in one printf. */
static __attribute__((unused)) const char *stress_count(long long value) {
    static char buffers[8][32];
    static int next = 0;
    char *out = buffers[next++ % 8], digits[32];
    int length = snprintf(digits, sizeof digits, "%lld", value < 0 ? -value : value), at = 0;
    if (value < 0) out[at++] = '-';
    for (int i = 0; i < length; i++) {
        out[at++] = digits[i];
        if ((length - i - 1) % 3 == 0 && i != length - 1) out[at++] = ',';
    }
    out[at] = 0;
    return out;
}

/* A positive integer argument, or `fallback`. */
static __attribute__((unused)) long stress_arg(int argc, char **argv, int index, long fallback) {
    if (index < argc) {
        long value = strtol(argv[index], NULL, 10);
        if (value > 0) return value;
    }
    return fallback;
}

static char stress_scratch[256];

static __attribute__((unused)) void stress_make_scratch(const char *name) {
    snprintf(stress_scratch, sizeof stress_scratch, "/tmp/descent-stress-%s-XXXXXX", name);
    if (!mkdtemp(stress_scratch)) {
        perror("mkdtemp");
        exit(2);
    }
}

static __attribute__((unused)) void stress_remove_scratch(void) {
    DIR *dir = opendir(stress_scratch);
    if (dir) {
        struct dirent *entry;
        char path[600];
        while ((entry = readdir(dir))) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", stress_scratch, entry->d_name);
            unlink(path);
        }
        closedir(dir);
    }
    rmdir(stress_scratch);
}

/* Files in the scratch folder whose names start with `prefix`. */
static __attribute__((unused)) int stress_count_files(const char *prefix) {
    int count = 0;
    DIR *dir = opendir(stress_scratch);
    if (!dir) return -1;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (strncmp(entry->d_name, prefix, strlen(prefix)) == 0) count++;
    }
    closedir(dir);
    return count;
}

/* This process's virtual size in bytes (from /proc/self/statm), or a negative number. */
static __attribute__((unused)) long stress_virtual_size(void) {
    FILE *file = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (!file) return -1;
    if (fscanf(file, "%ld", &pages) != 1) pages = -1;
    fclose(file);
    return pages * sysconf(_SC_PAGESIZE);
}

enum { STRESS_CHILD_SIGNALED = -1, STRESS_CHILD_HUNG = -2 };

/* Waits for `pid` at most `seconds`: its exit status, STRESS_CHILD_SIGNALED (then *signal_out
 * says which) or STRESS_CHILD_HUNG (it was killed). */
static __attribute__((unused)) int stress_wait(pid_t pid, double seconds, int *signal_out) {
    int status = 0;
    double deadline = stress_now() + seconds;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (done < 0 && errno != EINTR) return STRESS_CHILD_SIGNALED;
        if (stress_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return STRESS_CHILD_HUNG;
        }
        struct timespec pause = {0, 200 * 1000};
        nanosleep(&pause, NULL);
    }
    if (WIFSIGNALED(status)) {
        if (signal_out) *signal_out = WTERMSIG(status);
        return STRESS_CHILD_SIGNALED;
    }
    return WEXITSTATUS(status);
}

/* Runs body(context) in a child process; see stress_wait for the result. */
static __attribute__((unused)) int stress_in_child(int (*body)(void *), void *context, double seconds, int *signal_out) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return STRESS_CHILD_SIGNALED;
    }
    if (pid == 0) _exit(body(context));
    return stress_wait(pid, seconds, signal_out);
}

/* The program's summary line. */
static __attribute__((unused)) void stress_figure(const char *figure, double started, const char *format, ...) {
    va_list args;
    va_start(args, format);
    printf("stress: %s: ", figure);
    vprintf(format, args);
    printf(" (%.0f s)\n", stress_now() - started);
    va_end(args);
    fflush(stdout);
}

#endif
