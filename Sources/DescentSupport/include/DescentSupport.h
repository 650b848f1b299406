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

#endif
