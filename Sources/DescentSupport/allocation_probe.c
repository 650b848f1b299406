// Allocation probe: whether a block of `bytes` can be allocated right now. Swift traps when an
// array's allocation fails, so the C shims probe before making a caller-sized array. In C with a
// volatile pointer, because a compiler may remove a malloc whose block is freed unused.
#include "DescentSupport.h"

#include <stdlib.h>

int dsupport_can_allocate(size_t bytes) {
    void *volatile block = malloc(bytes ? bytes : 1);
    if (!block) return 0;
    free(block);
    return 1;
}
