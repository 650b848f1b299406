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

void dsupport_set_last_error_parts(const char *prefix, size_t prefix_length, const char *message,
                                   size_t message_length) {
    size_t used = 0;
    const size_t room = DSUPPORT_ERROR_CAPACITY - 1;
    if (prefix == NULL) prefix_length = 0;
    if (message == NULL) message_length = 0;
    if (prefix_length > room) prefix_length = room;
    if (prefix_length) memcpy(last_error_text, prefix, prefix_length);
    used = prefix_length;
    if (used + 2 <= room) {
        memcpy(last_error_text + used, ": ", 2);
        used += 2;
    }
    if (message_length > room - used) message_length = room - used;
    if (message_length) memcpy(last_error_text + used, message, message_length);
    used += message_length;
    last_error_text[used] = '\0';
}
