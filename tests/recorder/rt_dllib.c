/* rt_dllib - a library loaded with dlopen by rt_dlopen. */
#include <stdlib.h>
__attribute__((visibility("default"))) void *rt_dl_alloc(size_t n) { return malloc(n); }
__attribute__((visibility("default"))) void rt_dl_free(void *p) { free(p); }
