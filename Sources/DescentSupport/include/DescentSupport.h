// Internal C helpers for the Descent core. Not part of the public ABI: every symbol here is
// hidden from libdescent.so's dynamic symbol table.
#ifndef DESCENT_SUPPORT_H
#define DESCENT_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <cblas.h>

#define DSUPPORT_HIDDEN __attribute__((visibility("hidden")))

/// Copies `message` (truncated to the buffer) into this thread's last-error buffer.
DSUPPORT_HIDDEN void dsupport_set_last_error(const char *message);

/// This thread's last-error text; "" when no call on this thread has failed yet.
DSUPPORT_HIDDEN const char *dsupport_last_error(void);

/// Copies "<prefix>: <message>" (truncated to the buffer) into this thread's last-error buffer.
/// Allocates nothing, so an out-of-memory error can always be reported.
DSUPPORT_HIDDEN void dsupport_set_last_error_parts(const char *prefix, size_t prefix_length,
                                                   const char *message, size_t message_length);

// ---- temporary files of atomic saves (temporary_file.c) ---------------------------------------

/// Bytes a buffer needs for the temporary name of `path` (NUL included).
DSUPPORT_HIDDEN size_t dsupport_temporary_name_capacity(const char *path);

/// Creates "<path>.tmp-<pid>-<16 hex digits>" (a name no other save uses), opens it write-only and
/// holds an exclusive flock on it while the descriptor is open; writes the name to `name`.
/// Returns the descriptor, or -1 with errno set.
DSUPPORT_HIDDEN int dsupport_temporary_create(const char *path, char *name, size_t capacity);

/// Removes the temporary files of `path` that dead saves left behind: those nobody holds a lock on
/// whose process is gone (or that nobody touched for a minute), and those of the unlocked format
/// of earlier versions ("<path>.tmp-<pid>") whose process is gone. Never a running save's file.
/// Best effort: errors are ignored.
DSUPPORT_HIDDEN void dsupport_temporary_sweep(const char *path);

/// fsync of the directory holding `path` (best effort).
DSUPPORT_HIDDEN void dsupport_fsync_directory_of(const char *path);

#endif
