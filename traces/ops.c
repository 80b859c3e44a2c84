/* ops.c - names and properties of the event types. */
#include <string.h>

#include "trace.h"

static const char *const op_names[TR_OP_LAST - TR_OP_FIRST + 1] = {
    [TR_OP_MALLOC - TR_OP_FIRST] = "malloc",
    [TR_OP_CALLOC - TR_OP_FIRST] = "calloc",
    [TR_OP_REALLOC - TR_OP_FIRST] = "realloc",
    [TR_OP_REALLOCARRAY - TR_OP_FIRST] = "reallocarray",
    [TR_OP_FREE - TR_OP_FIRST] = "free",
    [TR_OP_MEMALIGN - TR_OP_FIRST] = "memalign",
    [TR_OP_POSIX_MEMALIGN - TR_OP_FIRST] = "posix_memalign",
    [TR_OP_ALIGNED_ALLOC - TR_OP_FIRST] = "aligned_alloc",
    [TR_OP_VALLOC - TR_OP_FIRST] = "valloc",
    [TR_OP_PVALLOC - TR_OP_FIRST] = "pvalloc",
    [TR_OP_MALLOPT - TR_OP_FIRST] = "mallopt",
    [TR_OP_MALLOC_TRIM - TR_OP_FIRST] = "malloc_trim",
    [TR_OP_THREAD_START - TR_OP_FIRST] = "thread_start",
    [TR_OP_THREAD_EXIT - TR_OP_FIRST] = "thread_exit",
    [TR_OP_FORK - TR_OP_FIRST] = "fork",
    [TR_OP_EXEC - TR_OP_FIRST] = "exec",
};

const char *tr_op_name(int op) {
    if (op < TR_OP_FIRST || op > TR_OP_LAST) return NULL;
    return op_names[op - TR_OP_FIRST];
}

int tr_op_from_name(const char *name) {
    for (int op = TR_OP_FIRST; op <= TR_OP_LAST; op++) {
        const char *n = op_names[op - TR_OP_FIRST];
        if (n && strcmp(n, name) == 0) return op;
    }
    return -1;
}

int tr_op_allocates(int op) {
    return (op >= TR_OP_MALLOC && op <= TR_OP_PVALLOC) && op != TR_OP_FREE;
}

int tr_op_releases(int op) {
    return op == TR_OP_FREE || op == TR_OP_REALLOC || op == TR_OP_REALLOCARRAY;
}
