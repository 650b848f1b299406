// The thread-local message behind descent_last_error(). Kept in C because Swift has no
// thread-local storage of its own; one fixed buffer per thread, never freed, never reallocated,
// so the pointer handed out stays valid for the life of the thread.
#include "DescentSupport.h"
#include <string.h>

enum { DSUPPORT_ERROR_CAPACITY = 1024 };

static _Thread_local char last_error_text[DSUPPORT_ERROR_CAPACITY];

void dsupport_set_last_error(const char *message) {
    if (message == NULL) {
        last_error_text[0] = '\0';
        return;
    }
    size_t length = strlen(message);
    if (length >= DSUPPORT_ERROR_CAPACITY) length = DSUPPORT_ERROR_CAPACITY - 1;
    memcpy(last_error_text, message, length);
    last_error_text[length] = '\0';
}

const char *dsupport_last_error(void) {
    return last_error_text;
}
