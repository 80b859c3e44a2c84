/* hangalloc.c - a malloc library whose constructor never returns: malloc-replay
 * must give up on it (--start-timeout) instead of waiting forever. */
#include <stddef.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
#define API __attribute__((visibility("default")))

__attribute__((constructor)) static void never_returns(void) {
    for (;;) pause();
}

API void *malloc(size_t n) { return __libc_malloc(n); }
API void free(void *p) { __libc_free(p); }
API void *calloc(size_t n, size_t size) { return __libc_calloc(n, size); }
API void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
