/* rt_dllib - a library loaded with dlopen by rt_dlopen. */
#include <stdlib.h>
__attribute__((visibility("default"))) void *rt_dl_alloc(size_t n) { return malloc(n); }
__attribute__((visibility("default"))) void rt_dl_free(void *p) { free(p); }
/* not a tail call: this library's frame is on the stack malloc sees */
__attribute__((visibility("default"))) void *rt_dl_alloc_framed(size_t n) {
    void *p = malloc(n);
    if (p) *(volatile char *)p = 1;
    return p;
}
