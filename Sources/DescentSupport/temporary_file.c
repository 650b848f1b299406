// Temporary files of atomic saves (see DescentSupport.h): unique names, liveness by flock, and the
// sweep that removes what dead saves left behind.
//
// A save writes "<path>.tmp-<pid>-<16 hex digits>" (pid of the saving process, then a per-process
// counter and random bits), holding an exclusive flock on it from creation until the rename. The
// kernel drops a flock when the process dies, however it dies, so a temporary file nobody has
// locked belongs to a save that is over. The one moment a live save's file is unlocked is between
// its creation and its flock (two system calls); the sweep therefore also requires the owner to
// be gone (kill(pid, 0) fails with ESRCH) or the file to be untouched for a minute.
#define _GNU_SOURCE
#include "DescentSupport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { STALE_SECONDS = 60 };

static _Atomic uint32_t temporary_counter;

static uint32_t random_bits(void) {
    uint32_t bits = 0;
    if (getrandom(&bits, sizeof bits, GRND_NONBLOCK) != (ssize_t)sizeof bits) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        bits = (uint32_t)now.tv_nsec ^ (uint32_t)((uintptr_t)&now >> 4);
    }
    return bits;
}

size_t dsupport_temporary_name_capacity(const char *path) {
    // ".tmp-" + up to 10 pid digits + "-" + 16 hex digits + NUL, with room to spare.
    return strlen(path) + 40;
}

int dsupport_temporary_create(const char *path, char *name, size_t capacity) {
    for (int attempt = 0; attempt < 16; attempt++) {
        uint32_t unique = atomic_fetch_add_explicit(&temporary_counter, 1, memory_order_relaxed);
        int length = snprintf(name, capacity, "%s.tmp-%ld-%08x%08x", path, (long)getpid(), unique, random_bits());
        if (length < 0 || (size_t)length >= capacity) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            if (errno == EEXIST) continue;
            return -1;
        }
        // Some file systems have no flock (ENOLCK, EOPNOTSUPP): the file stays unlocked there,
        // and a sweep, which needs the lock too, never removes it while its owner lives.
        if (flock(fd, LOCK_EX) == 0) {
            // A sweep can only have removed the name in the instant before the lock if our own
            // pid looked dead to it (another pid namespace); start again with a new name then.
            struct stat held, named;
            if (fstat(fd, &held) != 0 || stat(name, &named) != 0 || held.st_ino != named.st_ino ||
                held.st_dev != named.st_dev) {
                close(fd);
                continue;
            }
        }
        return fd;
    }
    errno = EEXIST;
    return -1;
}

// Splits `path` into its directory (written to `directory`) and the start of its last component.
static const char *split(const char *path, char *directory, size_t capacity) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(directory, capacity, ".");
        return path;
    }
    size_t length = (size_t)(slash - path);
    if (length == 0) length = 1;  // "/name"
    if (length >= capacity) return NULL;
    memcpy(directory, path, length);
    directory[length] = '\0';
    return slash + 1;
}

static int process_is_gone(long pid) {
    if (pid <= 0 || pid > INT_MAX) return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

void dsupport_temporary_sweep(const char *path) {
    char directory[PATH_MAX];
    const char *base = split(path, directory, sizeof directory);
    if (!base || !*base) return;
    size_t base_length = strlen(base);
    DIR *listing = opendir(directory);
    if (!listing) return;
    int directory_fd = dirfd(listing);
    struct dirent *entry;
    while ((entry = readdir(listing))) {
        const char *name = entry->d_name;
        if (strncmp(name, base, base_length) != 0 || strncmp(name + base_length, ".tmp-", 5) != 0) continue;
        // <pid> (the format of earlier versions, which did not lock) or <pid>-<16 hex digits>.
        const char *cursor = name + base_length + 5;
        long pid = 0;
        int digits = 0;
        while (*cursor >= '0' && *cursor <= '9' && digits < 10) {
            pid = pid * 10 + (*cursor++ - '0');
            digits++;
        }
        if (digits == 0) continue;
        int locking_format = 0;
        if (*cursor == '-') {
            cursor++;
            int hex = 0;
            while ((*cursor >= '0' && *cursor <= '9') || (*cursor >= 'a' && *cursor <= 'f')) {
                cursor++;
                hex++;
            }
            if (hex != 16) continue;
            locking_format = 1;
        }
        if (*cursor != '\0') continue;

        struct stat named;
        if (fstatat(directory_fd, name, &named, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(named.st_mode)) continue;
        if (!locking_format) {
            if (process_is_gone(pid)) unlinkat(directory_fd, name, 0);
            continue;
        }
        int fd = openat(directory_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            // Nobody holds it: its save is over, or has not yet taken its lock (alive and fresh).
            struct stat held;
            time_t now = time(NULL);
            if (fstat(fd, &held) == 0 && fstatat(directory_fd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
                held.st_ino == named.st_ino && held.st_dev == named.st_dev &&
                (process_is_gone(pid) || now - held.st_mtime > STALE_SECONDS)) {
                unlinkat(directory_fd, name, 0);
            }
        }
        close(fd);
    }
    closedir(listing);
}

void dsupport_fsync_directory_of(const char *path) {
    char directory[PATH_MAX];
    if (!split(path, directory, sizeof directory)) return;
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}
