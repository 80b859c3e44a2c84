/* fuzz_main.c - runs the fuzz target over files (a corpus) without libFuzzer,
 * so that every build checks the corpus and its mutations still pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static unsigned long long rng = 0x9e3779b97f4a7c15ull;
static unsigned long long rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

int main(int argc, char **argv) {
    long runs = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { fprintf(stderr, "fuzz_main: %s: cannot open\n", argv[i]); return 1; }
        fseek(f, 0, SEEK_END);
        long const n = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *p = malloc(n ? (size_t)n : 1), *q = malloc(n ? (size_t)n : 1);
        if (fread(p, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "fuzz_main: %s: short read\n", argv[i]); return 1; }
        fclose(f);
        LLVMFuzzerTestOneInput(p, (size_t)n);
        runs++;
        for (int k = 0; k < 300 && n > 0; k++) { /* cuts and flips */
            memcpy(q, p, (size_t)n);
            size_t len = (size_t)n;
            if (k % 3 == 0) len = rnd() % (size_t)n;
            for (int j = 0; j < 1 + k % 4; j++) q[rnd() % (size_t)n] ^= (unsigned char)rnd();
            LLVMFuzzerTestOneInput(q, len);
            runs++;
        }
        free(p);
        free(q);
    }
    printf("fuzz_main: %ld inputs, no crash\n", runs);
    return 0;
}
