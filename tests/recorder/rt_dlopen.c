/* rt_dlopen - dlopen/dlclose a library that allocates (three rounds, the
 * module map follows), and dlopen with RTLD_DEEPBIND (its calls bind to libc
 * directly and are not recorded; it must not crash).
 * argv[3] = "signal": dlopen, allocate in the library, and SIGTERM at once,
 * before the writer's next pass: the trace's module map must still hold
 * the library (rec_check: every pc of every stack lies in a module), at the
 * loader's bias and with its build id. */
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include "tlog.h"

int main(int argc, char **argv) {
    tlog_open(argv[1], 0);
    if (argc > 3 && strcmp(argv[3], "signal") == 0) {
        usleep(150000); /* the writer's first pass is over: the next one is ~100 ms away */
        void *h = dlopen(argv[2], RTLD_NOW);
        if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
        struct link_map *lm = NULL;
        if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm) { fprintf(stderr, "dlinfo: %s\n", dlerror()); return 1; }
        char p[1200];
        snprintf(p, sizeof p, "%s/%d.0.expect", argv[1], (int)getpid());
        FILE *f = fopen(p, "w"); fprintf(f, "end 2 15\nloaded librt_dllib %lx\n", (unsigned long)lm->l_addr); fclose(f);
        void *(*al)(size_t) = (void *(*)(size_t))dlsym(h, "rt_dl_alloc_framed");
        for (int i = 0; i < 100; i++) {
            void *q = al(3050);
            tlog("malloc", 3050, 0, 0, (uintptr_t)q);
        }
        raise(SIGTERM);
        return 1;
    }
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
