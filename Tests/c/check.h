/* A tiny assertion kit for the C test programs: CHECK counts, never aborts, and the program
 * prints "<suite>: N passed, M failed" last and exits non-zero on any failure. */
#ifndef DESCENT_TEST_CHECK_H
#define DESCENT_TEST_CHECK_H

#include <stdio.h>
#include <string.h>
#include "descent.h"

static int check_passed = 0;
static int check_failed = 0;

#define CHECK(condition)                                                                  \
    do {                                                                                  \
        if (condition) {                                                                  \
            check_passed++;                                                               \
        } else {                                                                          \
            check_failed++;                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,      \
                    __LINE__, #condition, descent_last_error());                         \
        }                                                                                 \
    } while (0)

/* The call returns `expected`; on an error status, the last-error text names the function. */
#define CHECK_STATUS(call, expected)                                                      \
    do {                                                                                  \
        descent_status check_status_ = (call);                                            \
        if (check_status_ == (expected)) {                                                \
            check_passed++;                                                               \
        } else {                                                                          \
            check_failed++;                                                               \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",      \
                    __FILE__, __LINE__, #call, descent_status_string(check_status_),      \
                    descent_status_string(expected), descent_last_error());              \
        }                                                                                 \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, DESCENT_OK)

static int check_report(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

#endif
