/* paths.c - a guard for tools that write next to the trace they read. */
#include <sys/stat.h>

#include "trace.h"

int tr_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
