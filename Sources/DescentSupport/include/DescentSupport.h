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

#endif
