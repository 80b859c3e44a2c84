/* wordfreq.c - the bundled example: a word-frequency indexer with the
 * allocation habits of real programs (many small strings, a hash table that
 * grows by realloc, short-lived temporary buffers, a large buffer that comes
 * and goes, and a phase that frees half of what it built), so that the
 * suite's record -> replay -> simulate -> report path has something to show.
 * Deterministic: the same run every time.  usage: wordfreq [WORDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry_s { char *word; unsigned long count; struct entry_s *next; } entry_t;

static unsigned long long seed = 12345;
static unsigned rnd(void) { seed = seed * 6364136223846793005ull + 1442695040888963407ull; return (unsigned)(seed >> 33); }

static entry_t **table;
static size_t nbuckets = 64, nentries;

static unsigned long hash(const char *s) {
    unsigned long h = 5381;
    while (*s) h = h * 33 + (unsigned char)*s++;
    return h;
}

static void grow(void) {
    size_t const n = nbuckets * 2;
    entry_t **t = calloc(n, sizeof *t);
    if (!t) exit(1);
    for (size_t i = 0; i < nbuckets; i++)
        for (entry_t *e = table[i], *next; e; e = next) {
            next = e->next;
            e->next = t[hash(e->word) % n];
            t[hash(e->word) % n] = e;
        }
    free(table);
    table = t;
    nbuckets = n;
}

static void add(const char *w) {
    unsigned long const h = hash(w) % nbuckets;
    for (entry_t *e = table[h]; e; e = e->next)
        if (strcmp(e->word, w) == 0) { e->count++; return; }
    entry_t *e = malloc(sizeof *e);
    if (!e || !(e->word = strdup(w))) exit(1);
    e->count = 1;
    e->next = table[h];
    table[h] = e;
    if (++nentries > nbuckets) grow();
}

int main(int argc, char **argv) {
    long const words = argc > 1 ? atol(argv[1]) : 200000;
    table = calloc(nbuckets, sizeof *table);
    char *line = NULL;
    size_t cap = 0, len = 0;
    for (long i = 0; i < words; i++) {
        /* a word of Zipf-like popularity, 2-24 letters */
        unsigned const r = rnd() % 1000, id = r < 600 ? rnd() % 500 : rnd() % 50000;
        char w[32];
        unsigned k = 2 + id % 23;
        for (unsigned j = 0; j < k; j++) w[j] = (char)('a' + ((id * 2654435761u) >> (j % 24) ^ j) % 26);
        w[k] = 0;
        add(w);
        /* the current line grows by realloc, and is thrown away every ~12 words */
        if (len + k + 2 > cap) {
            cap = cap ? cap * 2 : 64;
            char *p = realloc(line, cap);
            if (!p) exit(1);
            line = p;
        }
        memcpy(line + len, w, k);
        len += k;
        line[len++] = ' ';
        if (rnd() % 12 == 0) { free(line); line = NULL; cap = len = 0; }
        /* a temporary formatting buffer */
        if (i % 7 == 0) {
            char *tmp = malloc(64 + rnd() % 400);
            if (!tmp) exit(1);
            snprintf(tmp, 64, "%ld:%s", i, w);
            free(tmp);
        }
        /* now and then a large scratch buffer (above the mmap threshold) */
        if (i % 50000 == 49999) {
            char *big = malloc(512 * 1024);
            if (!big) exit(1);
            memset(big, 1, 512 * 1024);
            free(big);
        }
    }
    /* forget the rare words: half the heap is freed, in hash order */
    size_t kept = 0;
    for (size_t b = 0; b < nbuckets; b++) {
        entry_t **pp = &table[b];
        while (*pp) {
            entry_t *e = *pp;
            if (e->count < 3) { *pp = e->next; free(e->word); free(e); nentries--; }
            else { pp = &e->next; kept++; }
        }
    }
    printf("wordfreq: %ld words, %zu distinct kept, %zu buckets\n", words, kept, nbuckets);
    free(line);
    return 0;
}
