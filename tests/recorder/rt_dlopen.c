/* rt_dlopen - dlopen/dlclose a library that allocates (three rounds, the
 * module map follows), and dlopen with RTLD_DEEPBIND (its calls bind to libc
 * directly and are not recorded; it must not crash). */
#include <dlfcn.h>
#include "tlog.h"

int main(int argc, char **argv) {
    (void)argc;
    tlog_open(argv[1], 0);
    for (int r = 0; r < 3; r++) {
        void *h = dlopen(argv[2], RTLD_NOW | (r == 2 ? RTLD_DEEPBIND : 0));
        if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
        void *(*al)(size_t) = (void *(*)(size_t))dlsym(h, "rt_dl_alloc");
        void (*fr)(void *) = (void (*)(void *))dlsym(h, "rt_dl_free");
        for (int i = 0; i < 100; i++) {
            void *p = al(3040 + r);
            if (r < 2) tlog("malloc", 3040 + r, 0, 0, (uintptr_t)p);
            if (r < 2) tlog("free", (uintptr_t)p, 0, 0, 0);
            fr(p);
        }
        usleep(150000); /* the writer scans the module map */
        dlclose(h);
        usleep(150000);
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
    FILE *f = fopen(p, "w"); fputs("end 0 0\nmodule librt_dllib\n", f); fclose(f);
    return 0;
}
