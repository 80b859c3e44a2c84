/* needsdep.c - a malloc library (glibc's malloc under its own names) that
 * needs a library ld.so cannot find (librp_dep.so, built without a run
 * path): the run must fail with ld.so's reason as its one error line. */
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern int rp_dep_value(void);
#define API __attribute__((visibility("default")))

static int dep;
__attribute__((constructor)) static void init(void) { dep = rp_dep_value(); }

API void *malloc(size_t n) { return __libc_malloc(n + (size_t)dep * 0); }
API void free(void *p) { __libc_free(p); }
API void *calloc(size_t n, size_t size) { return __libc_calloc(n, size); }
API void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
