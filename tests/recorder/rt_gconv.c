/* rt_gconv - RTGCONV1.so, a gconv module, is loaded and unloaded by glibc's
 * iconv itself (its own dlclose, which no dlclose hook sees); RTGCONV2.so,
 * the same code layout with other CFA rules, is then dlopened at the same
 * address and allocates from a new thread 0.3 s later (after a recorder
 * writer pass). Its stack must be thread_main;run;helper, not RTGCONV1's
 * stale rules' (helper alone). Exit 77 if the module did not come back at
 * the same address (nothing to check).
 *   GCONV_PATH=DIR rt_gconv DIR/RTGCONV2.so */
#include <dlfcn.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*run)(void);

static void *thread_main(void *arg) {
    (void)arg;
    free(run());
    return NULL;
}

static uintptr_t base_of(const char *name) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    uintptr_t b = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, name)) { b = (uintptr_t)strtoull(line, NULL, 16); break; }
    if (f) fclose(f);
    return b;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: rt_gconv MOD2\n"); return 2; }
    iconv_t cd = iconv_open("UTF-8", "RTGCONV//");
    if (cd == (iconv_t)-1) { perror("rt_gconv: iconv_open RTGCONV"); return 1; }
    uintptr_t const b1 = base_of("RTGCONV1.so");
    iconv_close(cd);
    for (int i = 0; i < 4; i++) { /* glibc unloads a module unused for a few opens */
        iconv_t c = iconv_open("UTF-8", "ISO-8859-2");
        if (c != (iconv_t)-1) iconv_close(c);
    }
    if (base_of("RTGCONV1.so")) { fprintf(stderr, "rt_gconv: RTGCONV1.so not unloaded\n"); return 77; }
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { fprintf(stderr, "rt_gconv: %s\n", dlerror()); return 1; }
    if (base_of("RTGCONV2.so") != b1) { fprintf(stderr, "rt_gconv: not at the same address\n"); return 77; }
    run = (void *(*)(void))dlsym(h, "run");
    usleep(300000);
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    printf("ok\n");
    return 0;
}
