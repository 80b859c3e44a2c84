/* sim_unit.c - hand-worked unit tests of the simulator's models: the buddy
 * allocator step by step (blocks, footprint, /proc/buddyinfo counts, Linux's
 * unusable-free and fragmentation indices), the size-class tables against
 * the allocators' documented classes, and the slab footprint; the driver's
 * address map against a plain array, past the size where its table is
 * mapped; the per-id arrays across their switch to mmap and mremap; and
 * which thread steps a lone model. */
#include "amap.h"
#include "ids.h"
#include "sim.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int fails;
#define CHECK(c)                                                          \
    do {                                                                  \
        if (!(c)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            fails++;                                                      \
        }                                                                 \
    } while (0)
#define NEAR(a, b) CHECK(fabs((a) - (b)) < 1e-9)

static void op(sim_model_t *m, int o, uint32_t id, uint32_t old, uint64_t size, uint64_t align)
{
    sim_req_t r = { .op = (uint8_t)o, .id = id, .old_id = old, .size = size, .align = align };
    m->step(m->opaque, &r);
}
#define MALLOC(m, id, n) op(m, TR_OP_MALLOC, id, SIM_NO_ID, n, 0)
#define FREE(m, id) op(m, TR_OP_FREE, SIM_NO_ID, id, 0, 0)

static void expect_free(sim_model_t *m, const uint64_t *want, unsigned n)
{
    uint64_t nf[SIM_BUDDY_MAX_ORDERS];
    CHECK(sim_buddy_nr_free(m, nf) == n);
    for (unsigned k = 0; k < n; k++)
        if (nf[k] != want[k]) {
            fprintf(stderr, "  nr_free[%u] = %llu, expected %llu\n", k, (unsigned long long)nf[k],
                    (unsigned long long)want[k]);
            fails++;
        }
}

static void test_buddy(void)
{
    sim_model_t m;
    char err[128];
    sim_stats_t st;
    /* 16-byte blocks, orders 0..4: zones of 256 bytes */
    CHECK(sim_model_buddy(&m, 16, 4, err, sizeof err) == 0);
    CHECK(m.footprint(m.opaque) == 0);
    /* A(16): a new zone split 256 -> 128+128 -> 64+64 -> 32+32 -> 16+16; A at 0 */
    MALLOC(&m, 0, 16);
    CHECK(m.footprint(m.opaque) == 256);
    expect_free(&m, (uint64_t[]){ 1, 1, 1, 1, 0 }, 5);
    /* B(40) takes the free 64 at offset 64; C(17) the free 32 at offset 32 */
    MALLOC(&m, 1, 40);
    expect_free(&m, (uint64_t[]){ 1, 1, 0, 1, 0 }, 5);
    MALLOC(&m, 2, 17);
    expect_free(&m, (uint64_t[]){ 1, 0, 0, 1, 0 }, 5);
    m.stats(m.opaque, &st);
    CHECK(st.class_bytes == 16 + 64 + 32);
    CHECK(st.free_bytes == 256 - 112);
    CHECK(st.largest_free == 128);
    /* free A: merges with its free buddy (16 at 16) into 32 at 0; C holds 32 at 32 */
    FREE(&m, 0);
    expect_free(&m, (uint64_t[]){ 0, 1, 0, 1, 0 }, 5);
    uint64_t nf[] = { 0, 1, 0, 1, 0 };
    /* free pages (16-byte units) = 2 + 8 = 10; order 2 suitable: the 128 = 2 blocks of 64 */
    NEAR(sim_unusable_index(nf, 5, 0), 0.0);
    NEAR(sim_unusable_index(nf, 5, 2), (10.0 - 8.0) / 10.0);
    NEAR(sim_unusable_index(nf, 5, 4), 1.0);
    /* no free block of order 4: 1 - (1 + 10/16) / 2 blocks */
    NEAR(sim_frag_index(nf, 5, 4), 1.0 - (1.0 + 10.0 / 16.0) / 2.0);
    NEAR(sim_frag_index(nf, 5, 3), -1.0);
    uint64_t none[] = { 0, 0, 0, 0, 0 };
    NEAR(sim_frag_index(none, 5, 2), 0.0);
    NEAR(sim_unusable_index(none, 5, 2), 1.0);
    /* D(8): order 0; none free at 0, lowest order with a block is 1 (the 32 at 0) */
    MALLOC(&m, 3, 8);
    expect_free(&m, (uint64_t[]){ 1, 0, 0, 1, 0 }, 5);
    FREE(&m, 3);
    FREE(&m, 2); /* 32 at 0 + 32 at 32 -> 64 at 0; B holds 64 at 64 */
    expect_free(&m, (uint64_t[]){ 0, 0, 1, 1, 0 }, 5);
    /* realloc B 40 -> 60: same order, stays; -> 100: the new 128 is taken
     * first (the free 128 at 128), then B's 64 at 64 merges with the 64 at 0 */
    op(&m, TR_OP_REALLOC, 4, 1, 60, 0);
    expect_free(&m, (uint64_t[]){ 0, 0, 1, 1, 0 }, 5);
    op(&m, TR_OP_REALLOC, 5, 4, 100, 0);
    expect_free(&m, (uint64_t[]){ 0, 0, 0, 1, 0 }, 5);
    CHECK(m.footprint(m.opaque) == 256);
    m.stats(m.opaque, &st);
    CHECK(st.largest_free == 128 && st.class_bytes == 128);
    MALLOC(&m, 10, 128); /* the 128 at 0 */
    CHECK(m.footprint(m.opaque) == 256);
    FREE(&m, 10);
    FREE(&m, 5); /* the zone is wholly free: returned */
    CHECK(m.footprint(m.opaque) == 0);
    /* larger than a zone: whole zones of its own */
    MALLOC(&m, 6, 300);
    CHECK(m.footprint(m.opaque) == 512);
    /* a second zone for a block when the first is full */
    MALLOC(&m, 7, 256);
    MALLOC(&m, 8, 1);
    CHECK(m.footprint(m.opaque) == 512 + 512);
    /* memalign: the block is max(size, align) */
    op(&m, TR_OP_MEMALIGN, 9, SIM_NO_ID, 10, 64);
    m.stats(m.opaque, &st);
    CHECK(st.class_bytes == 512 + 256 + 16 + 64);
    FREE(&m, 6);
    FREE(&m, 7);
    FREE(&m, 8);
    FREE(&m, 9);
    CHECK(m.footprint(m.opaque) == 0);
    m.destroy(m.opaque);
    CHECK(sim_model_buddy(&m, 24, 4, err, sizeof err) == -1);
    CHECK(sim_model_buddy(&m, 8192, 4, err, sizeof err) == -1);
}

/* Many blocks: every free merges back; the lowest-address rule keeps a
 * sequence of equal blocks contiguous. */
static void test_buddy_bulk(void)
{
    sim_model_t m;
    char err[128];
    CHECK(sim_model_buddy(&m, 16, 10, err, sizeof err) == 0); /* 16 KiB zones */
    for (uint32_t i = 0; i < 4096; i++)
        MALLOC(&m, i, 16); /* 64 KiB: exactly 4 zones */
    CHECK(m.footprint(m.opaque) == 4 * 16384);
    for (uint32_t i = 0; i < 4096; i += 2)
        FREE(&m, i); /* every other: 2048 free 16-byte blocks, none mergeable */
    uint64_t nf[SIM_BUDDY_MAX_ORDERS];
    sim_buddy_nr_free(&m, nf);
    CHECK(nf[0] == 2048 && nf[1] == 0);
    NEAR(sim_unusable_index(nf, 11, 1), 1.0);
    NEAR(sim_frag_index(nf, 11, 1), 1.0 - (1.0 + 2048.0 / 2.0) / 2048.0);
    for (uint32_t i = 1; i < 4096; i += 2)
        FREE(&m, i);
    CHECK(m.footprint(m.opaque) == 0);
    m.destroy(m.opaque);
}

static void classes_from(sim_sc_kind_t k, uint64_t upto, uint64_t *out, unsigned *n)
{
    *n = 0;
    for (uint64_t s = 1; s <= upto;) {
        uint64_t c = sim_class_size(k, s);
        out[(*n)++] = c;
        s = c + 1;
    }
}

static void test_classes(void)
{
    uint64_t got[400];
    unsigned n;
    /* jemalloc(3) manual, "Size classes" table (4 KiB pages, 16-byte quantum) */
    static const uint64_t je[] = { 8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256,
                                   320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792,
                                   2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240,
                                   12288, 14336, 16384, 20480, 24576, 28672, 32768, 40960,
                                   49152, 57344, 65536 };
    classes_from(SIM_JEMALLOC, 65536, got, &n);
    CHECK(n == sizeof je / sizeof je[0] && !memcmp(got, je, sizeof je));
    int slab;
    CHECK(sim_slab_bytes(SIM_JEMALLOC, 48, &slab) == 12288 && slab); /* lcm(4096, 48) */
    CHECK(sim_slab_bytes(SIM_JEMALLOC, 14336, &slab) == 28672 && slab);
    sim_slab_bytes(SIM_JEMALLOC, 16384, &slab);
    CHECK(!slab && sim_large_bytes(SIM_JEMALLOC, 16384) == 20480);
    /* mimalloc 2.0 bins: 8, 16, 32, 48, 64, then 4 per doubling */
    static const uint64_t mi[] = { 8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256,
                                   320, 384, 448, 512, 640, 768, 896, 1024 };
    classes_from(SIM_MIMALLOC, 1024, got, &n);
    CHECK(n == sizeof mi / sizeof mi[0] && !memcmp(got, mi, sizeof mi));
    CHECK(sim_class_size(SIM_MIMALLOC, 131072) == 131072);
    CHECK(sim_class_size(SIM_MIMALLOC, 131073) == 196608);
    /* tcmalloc 2.10: 8, 16-byte steps to 128, then 16 up to 256 (2^7/8), 32 up to 512 */
    static const uint64_t tc[] = { 8, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208,
                                   224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512 };
    classes_from(SIM_TCMALLOC, 512, got, &n);
    CHECK(n == sizeof tc / sizeof tc[0] && !memcmp(got, tc, sizeof tc));
    CHECK(sim_class_size(SIM_TCMALLOC, 262144) == 262144);
    CHECK(sim_class_size(SIM_TCMALLOC, 262145) == 262144 + 8192);
    /* every class holds its request and never shrinks as requests grow */
    for (int k = 0; k < 3; k++) {
        uint64_t prev = 0;
        for (uint64_t s = 1; s < 3u << 20; s += s < 8192 ? 1 : 97) {
            uint64_t c = sim_class_size((sim_sc_kind_t)k, s);
            if (c < s || c < prev) {
                fprintf(stderr, "kind %d: class(%llu) = %llu\n", k, (unsigned long long)s,
                        (unsigned long long)c);
                fails++;
                break;
            }
            prev = c;
        }
    }
}

static void test_slabs(void)
{
    sim_model_t m;
    char err[128];
    sim_stats_t st;
    CHECK(sim_model_sizeclass(&m, SIM_JEMALLOC, err, sizeof err) == 0);
    /* 48-byte class: slabs of 12288 bytes, 256 objects each */
    for (uint32_t i = 0; i < 257; i++)
        MALLOC(&m, i, 40);
    CHECK(m.footprint(m.opaque) == 2 * 12288);
    m.stats(m.opaque, &st);
    CHECK(st.class_bytes == 257 * 48);
    FREE(&m, 256); /* the second slab empties: returned */
    CHECK(m.footprint(m.opaque) == 12288);
    FREE(&m, 5);
    MALLOC(&m, 300, 33); /* goes into the hole of slab 0: no new slab */
    CHECK(m.footprint(m.opaque) == 12288);
    op(&m, TR_OP_REALLOC, 301, 300, 47, 0); /* same class: in place */
    CHECK(m.footprint(m.opaque) == 12288);
    MALLOC(&m, 302, 20000); /* large: 20480 + a 4 KiB pad */
    CHECK(m.footprint(m.opaque) == 12288 + 24576);
    FREE(&m, 302);
    for (uint32_t i = 0; i < 256; i++)
        if (i != 5)
            FREE(&m, i);
    FREE(&m, 301);
    CHECK(m.footprint(m.opaque) == 0);
    m.destroy(m.opaque);
}

/* The slab model's class of every request (a table up to 4 KiB, the class
 * function above) is sim_class_size's. */
static void test_slab_classes(void)
{
    for (int k = 0; k < 3; k++) {
        sim_model_t m;
        char err[128];
        sim_stats_t st;
        CHECK(sim_model_sizeclass(&m, (sim_sc_kind_t)k, err, sizeof err) == 0);
        uint64_t prev = 0;
        uint32_t id = 0;
        for (uint64_t n = 0; n <= 300000; n += n < 5000 ? 1 : 37, id++) {
            MALLOC(&m, id, n);
            m.stats(m.opaque, &st);
            if (st.class_bytes - prev != sim_class_size((sim_sc_kind_t)k, n)) {
                fprintf(stderr, "kind %d: slab model class of %llu = %llu\n", k, (unsigned long long)n,
                        (unsigned long long)(st.class_bytes - prev));
                fails++;
                break;
            }
            prev = st.class_bytes;
        }
        m.destroy(m.opaque);
    }
}

/* The driver's address map (amap.h) against an array of the live keys:
 * random inserts and deletes, keys that all share a few home buckets (long
 * overflow chains, counts that saturate), growth; every live key found with
 * its value, every deleted one gone. */
static void test_amap(void)
{
    static uint64_t key[200000], val[200000];
    /* round 0: random keys; 1: crowded home buckets; 2: 200K keys, a table
     * of 6 MiB (mapped, grown through the 2 MiB switch) */
    for (int round = 0; round < 3; round++) {
        int crowd = round == 1, big = round == 2;
        amap_t m = { 0 };
        if (amap_init(&m, 2)) {
            CHECK(0);
            return;
        }
        uint64_t rng = 12345, n = 0, ops = 0, bad = 0, next = 1;
        uint64_t cap = crowd ? 1500 : big ? 200000 : 20000, steps = crowd ? 60000 : big ? 600000 : 400000;
        for (uint64_t step = 0; step < steps; step++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int ins = n < 100 || (n < cap && rng % 100 < (step < steps / 2 ? (big ? 90 : 55) : 45));
            if (ins) {
                uint64_t id = next++, k = crowd ? id << 20 : id * 16;
                if (crowd) { /* crowd: every key in one of 3 home buckets */
                    uint64_t want = amap_home(&m, 0x1000 * (1 + rng % 3));
                    while (amap_home(&m, k) != want)
                        k += 8;
                }
                if (amap_reserve(&m)) { bad++; break; }
                int found;
                uint64_t i = amap_slot(&m, k, &found);
                if (found) { /* a fresh key is never present */
                    bad++;
                    continue;
                }
                m.ents[i].key = k;
                m.ents[i].val = k ^ 0x5555;
                m.n++;
                key[n] = k, val[n] = k ^ 0x5555, n++;
            } else {
                uint64_t j = rng / 7 % n, i = amap_find(&m, key[j]);
                if (i == AMAP_NONE || m.ents[i].val != val[j]) { bad++; continue; }
                int found;
                if (amap_take(&m, key[j], &found) != val[j] || !found)
                    bad++;
                if (amap_find(&m, key[j]) != AMAP_NONE)
                    bad++;
                if (amap_take(&m, key[j], &found) != 0 || found) /* gone: not found again */
                    bad++;
                key[j] = key[--n], val[j] = val[n];
            }
            ops++;
        }
        for (uint64_t j = 0; j < n; j++) {
            uint64_t i = amap_find(&m, key[j]);
            if (i == AMAP_NONE || m.ents[i].val != val[j])
                bad++;
        }
        CHECK(bad == 0);
        CHECK(m.n == n);
        CHECK(ops > steps / 2);
        if (big)
            CHECK(m.mapped >= 4u << 20 && n > 100000);
        amap_free(&m);
    }
}

/* ids_fit grown one id at a time from nothing to 5 MiB: below 2 MiB by
 * realloc, then a copy into a mapping, then mremap. Every new element reads
 * 0, every written one keeps its value across each move. */
static void test_ids(void)
{
    for (size_t elem = 8; elem <= 16; elem += 8) {
        void *arr = NULL;
        uint64_t cap = 0, bad = 0, n = (5u << 20) / elem;
        for (uint32_t id = 0; id < n; id++) {
            if (ids_fit(&arr, &cap, id, elem)) {
                CHECK(0);
                break;
            }
            uint64_t *e = (uint64_t *)((char *)arr + (size_t)id * elem);
            if (e[0] != 0 || e[elem / 8 - 1] != 0)
                bad++;
            e[0] = id * 3 + 1;
        }
        for (uint32_t id = 0; id < n; id++)
            if (((uint64_t *)((char *)arr + (size_t)id * elem))[0] != id * 3 + 1)
                bad++;
        CHECK(bad == 0);
        CHECK(cap * elem >= IDS_MAP);
        ids_free(arr, cap, elem);
    }
    for (size_t n = 1; n < 300; n += 37) {
        unsigned char *p = sim_zalloc_lines(n);
        CHECK(p && (uintptr_t)p % 64 == 0);
        int zero = 1;
        for (size_t i = 0; p && i < n; i++)
            zero &= p[i] == 0;
        CHECK(zero);
        free(p);
    }
}

/* Which thread steps a lone model: the lane's with threads = 2 and no
 * checkpoints, the caller's with checkpoints (they read its state there) or
 * with threads = 1; the same results in every case. */
static pthread_t step_thread, step_thread2;
static uint64_t step_live, step_count;
static void second_step(void *o, const sim_req_t *r) { (void)o, (void)r, step_thread2 = pthread_self(); }
static uint64_t second_fp(void *o) { return (void)o, 0; } /* nothing shared with the first model */
static void second_stats(void *o, sim_stats_t *st) { (void)o, memset(st, 0, sizeof *st); }
static void lone_step(void *o, const sim_req_t *r)
{
    (void)o;
    step_thread = pthread_self();
    step_count++;
    if (r->op == TR_OP_MALLOC)
        step_live += r->size;
    else if (r->op == TR_OP_FREE)
        step_live -= 1000; /* every malloc below is 1000 bytes */
}
static uint64_t lone_fp(void *o) { return (void)o, step_live; }
static void lone_stats(void *o, sim_stats_t *st) { (void)o, memset(st, 0, sizeof *st), st->footprint = step_live; }
static void lone_destroy(void *o) { (void)o; }
static void lone_cp(void *ctx, uint64_t op, int final) { (void)ctx, (void)op, (void)final; }

static void test_lone_lane(void)
{
    /* modes: 0 lone, in the lane; 1 lone with checkpoints, here; 2 one
     * thread; 3 a second model and checkpoints: the first here, the second
     * in the lane; 4 the costs of ptmalloc2 and buddy, no checkpoints: the
     * first in the lane (the second too from 3 CPUs up) */
    for (int mode = 0; mode < 5; mode++) {
        sim_model_t m[2] = { { .name = "lone", .step = lone_step, .footprint = lone_fp, .stats = lone_stats,
                               .destroy = lone_destroy, .cost = 27 },
                             { .name = "second", .step = second_step, .footprint = second_fp,
                               .stats = second_stats, .destroy = lone_destroy, .cost = 14 } };
        sim_run_t run = { .models = m, .nmodels = mode >= 3 ? 2 : 1, .threads = mode == 2 ? 1 : 2 };
        if (mode == 1 || mode == 3)
            run.checkpoint_every = 1000, run.checkpoint = lone_cp;
        step_live = step_count = 0;
        step_thread = step_thread2 = pthread_self();
        CHECK(sim_begin(&run) == 0);
        tr_event_t ev = { .tid = 1 };
        /* 2 mallocs then a free of the second, 1000 bytes each: 13334 mallocs,
         * 6666 frees, 6668000 bytes live at the end and at the peak */
        for (uint64_t i = 1; i <= 20000; i++) {
            ev.seq = ev.release_seq = i;
            if (i % 3) {
                ev.op = TR_OP_MALLOC, ev.a = 1000, ev.ret = 0x100000 + i * 0x1000;
            } else {
                ev.op = TR_OP_FREE, ev.a = 0x100000 + (i - 1) * 0x1000, ev.ret = 0;
            }
            CHECK(sim_event(&run, &ev) == 0);
        }
        sim_end(&run);
        int other = !pthread_equal(step_thread, pthread_self());
        if (mode == 0 || mode == 4)
            CHECK(other);
        else
            CHECK(!other);
        if (mode == 3)
            CHECK(!pthread_equal(step_thread2, pthread_self()));
        CHECK(step_count == 20000);
        CHECK(run.results[0].peak_footprint == 6668000 && run.results[0].final.footprint == 6668000);
        sim_run_free(&run);
    }
}

int main(void)
{
    test_amap();
    test_ids();
    test_lone_lane();
    test_slab_classes();
    test_buddy();
    test_buddy_bulk();
    test_classes();
    test_slabs();
    if (fails) {
        fprintf(stderr, "sim_unit: %d checks failed\n", fails);
        return 1;
    }
    printf("sim_unit: all checks passed\n");
    return 0;
}
