/* prep.c - trace to replay plan: recorded addresses become dense object ids
 * (the only hashing of the whole replay happens here, in the parent), ops
 * become 16-byte records, and in threads mode every op that touches an
 * object made by another thread, or an address another thread released,
 * carries a dependency on that thread's progress. */
#include "replay.h"
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- growable arrays ------------------------------------------------------ */
#define VEC(T) struct { T *v; size_t n, cap; }
#define VPUSH(a, x) do { if ((a).n == (a).cap && vgrow((void **)&(a).v, &(a).cap, sizeof *(a).v)) goto nomem; \
                         (a).v[(a).n++] = (x); } while (0)
/* Arrays of 1 MiB and more live in their own mappings and grow with mremap,
 * without copying (glibc's realloc copies once its mmap threshold has risen). */
#define VMAP_MIN (1u << 20)
static int vgrow(void **v, size_t *cap, size_t elt) {
    size_t const nc = *cap ? *cap * 2 : 256, ob = *cap * elt, nb = nc * elt;
    void *p;
    if (nb < VMAP_MIN) {
        p = realloc(*v, nb);
        if (!p) return -1;
    } else if (ob < VMAP_MIN) {
        p = mmap(NULL, nb, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -1;
        madvise(p, nb, MADV_HUGEPAGE); /* 4 KiB page faults were ~1/3 of the preprocessing time */
        if (ob) memcpy(p, *v, ob);
        free(*v);
    } else {
        p = mremap(*v, ob, nb, MREMAP_MAYMOVE);
        if (p == MAP_FAILED) return -1;
        madvise(p, nb, MADV_HUGEPAGE);
    }
    *v = p;
    *cap = nc;
    return 0;
}
#define VFREE(a) vfree((a).v, (a).cap * sizeof *(a).v)
static void vfree(void *v, size_t bytes) {
    if (bytes < VMAP_MIN) free(v);
    else munmap(v, bytes);
}

/* ---- address hash: open addressing, linear probing, backward-shift delete - */
typedef struct ent_s {
    uint64_t key;   /* address (or tid + 1); 0 = empty */
    uint64_t birth; /* seq of the op that returned it */
    uint64_t size;  /* requested bytes */
    uint32_t id;    /* object id (lane index in the thread table) */
    uint32_t lane, count; /* producer lane and its op count after producing */
    uint32_t pad;
} ent_t;

typedef struct map_s {
    ent_t *t;
    size_t mask, n;
} map_t;

static inline size_t hslot(uint64_t k, size_t mask) { return (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & mask; }

/* Tables of 1 MiB and more are mapped on transparent huge pages: a growing
 * table was written page by page, and page faults cost ~10 us here (VM). */
static int map_init(map_t *m, size_t cap) {
    size_t const bytes = cap * sizeof *m->t;
    if (bytes < VMAP_MIN) {
        m->t = calloc(cap, sizeof *m->t);
    } else {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        m->t = p == MAP_FAILED ? NULL : p;
        if (m->t) madvise(m->t, bytes, MADV_HUGEPAGE);
    }
    m->mask = cap - 1;
    m->n = 0;
    return m->t ? 0 : -1;
}

static void map_free(map_t *m) {
    if (m->t) vfree(m->t, (m->mask + 1) * sizeof *m->t);
    m->t = NULL;
}

static ent_t *map_find(const map_t *m, uint64_t k) {
    for (size_t i = hslot(k, m->mask);; i = (i + 1) & m->mask) {
        if (m->t[i].key == k) return &m->t[i];
        if (!m->t[i].key) return NULL;
    }
}

static int map_grow(map_t *m) {
    map_t g;
    if (map_init(&g, (m->mask + 1) * 2)) return -1;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->t[i].key) {
            size_t j = hslot(m->t[i].key, g.mask);
            while (g.t[j].key) j = (j + 1) & g.mask;
            g.t[j] = m->t[i];
        }
    g.n = m->n;
    map_free(m);
    *m = g;
    return 0;
}

/* Slot for k (new entries zeroed with the key set); NULL when out of memory. */
static ent_t *map_put(map_t *m, uint64_t k) {
    if ((m->n + 1) * 2 > m->mask + 1 && map_grow(m)) return NULL; /* load <= 1/2: short probes */
    size_t i = hslot(k, m->mask);
    for (; m->t[i].key; i = (i + 1) & m->mask)
        if (m->t[i].key == k) return &m->t[i];
    memset(&m->t[i], 0, sizeof m->t[i]);
    m->t[i].key = k;
    m->n++;
    return &m->t[i];
}

static void map_del(map_t *m, ent_t *e) {
    size_t i = (size_t)(e - m->t);
    for (size_t j = i;;) {
        j = (j + 1) & m->mask;
        if (!m->t[j].key) break;
        size_t const h = hslot(m->t[j].key, m->mask);
        /* move j back to i unless its home lies cyclically in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            m->t[i] = m->t[j];
            i = j;
        }
    }
    m->t[i].key = 0;
    m->n--;
}

/* ---- per recorded thread -------------------------------------------------- */
typedef struct lane_s {
    uint32_t tid, count;      /* ops so far */
    VEC(uint32_t) free_ids;   /* ids this thread released, reused by it only */
    uint64_t nops, next;      /* threads layout sizes */
} lane_t;

typedef struct prep_s {
    map_t live, displaced, freed, tids;
    VEC(lane_t) lanes;
    VEC(rp_op_t) ops;
    VEC(uint64_t) ext;
    VEC(uint32_t) oplane;
    VEC(uint64_t) times;
    VEC(uint64_t) deps; /* pairs: global op index, dependency word */
    VEC(uint64_t) live_at; /* live bytes every RP_LIVE_EVERY ops */
    uint64_t ncode[RP_NCODES];
    uint32_t next_id;
    uint32_t last_tid, last_lane; /* the last event's thread and lane */
    uint64_t live_bytes;
    int threads;
} prep_t;

static lane_t *lane_of(prep_t *p, uint32_t tid, uint32_t *index) {
    if (p->lanes.n && tid == p->last_tid) { /* runs of one thread's events: no lookup */
        *index = p->last_lane;
        return &p->lanes.v[p->last_lane];
    }
    ent_t *e = map_put(&p->tids, (uint64_t)tid + 1);
    if (!e) return NULL;
    if (!e->birth) {
        lane_t z;
        memset(&z, 0, sizeof z);
        z.tid = tid;
        VPUSH(p->lanes, z);
        e->birth = 1;
        e->id = (uint32_t)(p->lanes.n - 1);
    }
    *index = e->id;
    p->last_tid = tid;
    p->last_lane = e->id;
    return &p->lanes.v[e->id];
nomem:
    return NULL;
}

static int new_id(prep_t *p, lane_t *l, uint32_t *id) {
    if (l->free_ids.n) {
        *id = l->free_ids.v[--l->free_ids.n];
        return 0;
    }
    if (p->next_id == UINT32_MAX) return -1;
    *id = p->next_id++;
    return 0;
}

static int add_dep(prep_t *p, uint32_t lane, uint32_t dl, uint32_t dc) {
    if (!p->threads || dl == lane) return 0;
    VPUSH(p->deps, (uint64_t)p->ops.n);
    VPUSH(p->deps, RP_DEP(dl, dc));
    return 0;
nomem:
    return -1;
}

/* Registers address a as the new object id made by (lane, count) at seq. */
static int born(prep_t *p, rp_prep_t *o, uint64_t a, uint32_t id, uint64_t size, uint32_t lane, uint32_t count,
                uint64_t seq) {
    ent_t *f;
    if (p->threads && (f = map_find(&p->freed, a))) {
        if (add_dep(p, lane, f->lane, f->count)) return -1;
        map_del(&p->freed, f);
    }
    ent_t *e = map_put(&p->live, a); /* one probe: a live entry has birth >= 1, a new one 0 */
    if (!e) return -1;
    if (e->birth) { /* still live: a realloc's release ordered before us, or a lost free */
        ent_t *d = map_put(&p->displaced, a);
        if (!d) return -1;
        if (d->birth) o->live_reuse++; /* an older displaced object is now unreachable */
        ent_t const keep = *e;
        *d = keep;
    }
    e->key = a;
    e->birth = seq ? seq : 1;
    e->size = size;
    e->id = id;
    e->lane = lane;
    e->count = count;
    p->live_bytes += size;
    if (p->live_bytes > o->ideal_peak) o->ideal_peak = p->live_bytes;
    return 0;
}

/* Releases the object in e (from map m) by (lane, count). */
static int died(prep_t *p, map_t *m, ent_t *e, lane_t *l, uint32_t lane, uint32_t count) {
    if (add_dep(p, lane, e->lane, e->count)) return -1;
    VPUSH(l->free_ids, e->id);
    p->live_bytes -= e->size;
    uint64_t const a = e->key;
    map_del(m, e);
    if (p->threads) {
        ent_t *f = map_put(&p->freed, a);
        if (!f) return -1;
        f->birth = 1;
        f->lane = lane;
        f->count = count;
    }
    return 0;
nomem:
    return -1;
}

static int code_of(int op) {
    switch (op) {
    case TR_OP_MALLOC: return RP_MALLOC;
    case TR_OP_CALLOC: return RP_CALLOC;
    case TR_OP_REALLOC: return RP_REALLOC;
    case TR_OP_REALLOCARRAY: return RP_REALLOCARRAY;
    case TR_OP_FREE: return RP_FREE;
    case TR_OP_MEMALIGN: return RP_MEMALIGN;
    case TR_OP_POSIX_MEMALIGN: return RP_POSIX_MEMALIGN;
    case TR_OP_ALIGNED_ALLOC: return RP_ALIGNED_ALLOC;
    case TR_OP_VALLOC: return RP_VALLOC;
    case TR_OP_PVALLOC: return RP_PVALLOC;
    case TR_OP_MALLOPT: return RP_MALLOPT;
    case TR_OP_MALLOC_TRIM: return RP_MALLOC_TRIM;
    default: return RP_NOP;
    }
}

/* threads mode: a thread's start waits for its creator to have made it
 * (the ops its creator did before), as in the program: without it a thread
 * made late ran from the replay's start, beside work that came before it. */
static int creator_dep(prep_t *p, uint32_t lane, uint32_t creator) {
    if (!p->threads) return 0;
    const ent_t *e = map_find(&p->tids, (uint64_t)creator + 1);
    if (!e || !p->lanes.v[e->id].count) return 0; /* no op of the creator yet */
    return add_dep(p, lane, e->id, p->lanes.v[e->id].count);
}

static int event(prep_t *p, rp_prep_t *o, const tr_event_t *ev) {
    if (p->ops.n % RP_LIVE_EVERY == 0) VPUSH(p->live_at, p->live_bytes); /* after ops.n ops */
    uint32_t li;
    lane_t *l = lane_of(p, ev->tid, &li);
    if (!l) return -1;
    uint32_t const count = l->count + 1; /* this lane's op count once this op is done */
    rp_op_t op = { (uint8_t)code_of(ev->op), 0, 0, 0, 0 };
    size_t const ext0 = p->ext.n;
    switch (op.code) {
    case RP_MALLOC: case RP_VALLOC: case RP_PVALLOC: case RP_CALLOC: case RP_MEMALIGN:
    case RP_POSIX_MEMALIGN: case RP_ALIGNED_ALLOC: {
        uint64_t size = ev->a, bytes;
        if (op.code == RP_CALLOC || op.code >= RP_MEMALIGN) size = ev->b;
        if (op.code == RP_VALLOC || op.code == RP_PVALLOC) size = ev->a;
        if (op.code != RP_MALLOC && op.code != RP_VALLOC && op.code != RP_PVALLOC) VPUSH(p->ext, ev->a);
        if (__builtin_mul_overflow(size, op.code == RP_CALLOC ? ev->a : 1, &bytes)) bytes = UINT64_MAX;
        op.size = size;
        if (!ev->ret) {
            op.id = op.code;
            op.code = RP_FAILED;
            break;
        }
        if (new_id(p, l, &op.id) || born(p, o, ev->ret, op.id, bytes, li, count, ev->seq)) return -1;
        break;
    }
    case RP_REALLOC: case RP_REALLOCARRAY: {
        int const arr = op.code == RP_REALLOCARRAY;
        uint64_t const nmemb = arr ? ev->b : 1, size = arr ? ev->c : ev->b;
        uint64_t bytes;
        if (__builtin_mul_overflow(size, nmemb, &bytes)) bytes = UINT64_MAX;
        op.size = size;
        map_t *from = NULL;
        ent_t *e = NULL;
        if (ev->a) {
            e = map_find(&p->live, ev->a);
            if (e && e->birth > ev->release_seq) e = NULL; /* born after our release: not ours */
            from = &p->live;
            if (!e && (e = map_find(&p->displaced, ev->a))) from = &p->displaced;
            if (!e) o->unknown_frees++; /* replayed as realloc(NULL, n) */
        }
        uint64_t const old_id = e ? e->id : 0, old_size = e ? e->size : 0;
        VPUSH(p->ext, old_id);
        VPUSH(p->ext, old_size);
        if (arr) VPUSH(p->ext, nmemb);
        if (!ev->ret) {
            if (e && bytes == 0) { /* realloc(p, 0) freed p */
                op.code = RP_REALLOC_FREE;
                op.flags = arr ? RP_F_ARRAY : 0;
                if (died(p, from, e, l, li, count)) return -1;
            } else { /* failed: the object (if any) lives on under its id */
                op.id = op.code;
                op.code = RP_FAILED;
                if (e && add_dep(p, li, e->lane, e->count)) return -1;
            }
            break;
        }
        if (e && died(p, from, e, l, li, count)) return -1;
        if (new_id(p, l, &op.id) || born(p, o, ev->ret, op.id, bytes, li, count, ev->seq)) return -1;
        break;
    }
    case RP_FREE: {
        if (!ev->a) break; /* free(NULL): object 0 */
        ent_t *e = map_find(&p->live, ev->a);
        if (!e) {
            o->unknown_frees++;
            op.code = RP_NOP;
            break;
        }
        op.id = e->id;
        if (died(p, &p->live, e, l, li, count)) return -1;
        break;
    }
    case RP_MALLOPT:
        op.id = (uint32_t)ev->a;
        op.size = ev->b;
        break;
    case RP_MALLOC_TRIM:
        op.size = ev->a;
        break;
    default:
        if (ev->op == TR_OP_THREAD_START && ev->a && creator_dep(p, li, (uint32_t)ev->a)) return -1;
        break;
    }
    (void)ext0;
    p->ncode[op.code]++;
    VPUSH(p->ops, op);
    if (p->threads) {
        VPUSH(p->oplane, li);
        VPUSH(p->times, ev->t_ns);
    }
    l->count = count;
    return 0;
nomem:
    return -1;
}

/* ---- plan file -------------------------------------------------------------- */
static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off) {
    const char *b = buf;
    while (n) {
        ssize_t const w = pwrite(fd, b, n > (1u << 30) ? (1u << 30) : n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int write_plan(prep_t *p, rp_prep_t *o, char *err, size_t errlen) {
    uint32_t const nl = p->threads ? (uint32_t)p->lanes.n : 1;
    if (p->threads) { /* per-lane sizes: ops, ext words and dependency words */
        size_t x = 0, d = 0;
        for (size_t i = 0; i < p->ops.n; i++) {
            lane_t *l = &p->lanes.v[p->oplane.v[i]];
            l->nops++;
            l->next += rp_ext_words(&p->ops.v[i]);
            x += rp_ext_words(&p->ops.v[i]);
            while (d < p->deps.n && p->deps.v[d] == i) { l->next++; d += 2; }
        }
        (void)x;
    }
    uint64_t off = sizeof(rp_plan_t);
    uint64_t const lanes_off = off;
    off += sizeof(rp_lane_t) * (nl ? nl : 1);
    rp_lane_t *lanes = calloc(nl ? nl : 1, sizeof *lanes);
    if (!lanes) goto nomem;
    for (uint32_t i = 0; i < nl; i++) {
        uint64_t const n = p->threads ? p->lanes.v[i].nops : p->ops.n;
        uint64_t const nx = p->threads ? p->lanes.v[i].next : p->ext.n;
        lanes[i].tid = p->threads ? p->lanes.v[i].tid : 0;
        lanes[i].ops_off = off; lanes[i].nops = n; off += n * sizeof(rp_op_t);
        lanes[i].ext_off = off; lanes[i].next = nx; off += nx * 8;
        if (p->threads) { lanes[i].t_off = off; off += n * 8; }
    }
    int const fd = memfd_create("malloc-replay-plan", 0);
    if (fd < 0 || ftruncate(fd, (off_t)off) < 0) {
        snprintf(err, errlen, "cannot create the replay plan (%" PRIu64 " bytes): %s", off, strerror(errno));
        if (fd >= 0) close(fd);
        free(lanes);
        return -1;
    }
    if (!p->threads) { /* serial: written, not stored through a mapping (no page fault per 4 KiB of shmem) */
        rp_plan_t h;
        memset(&h, 0, sizeof h);
        h.magic = RP_PLAN_MAGIC;
        h.bytes = off;
        h.nops = p->ops.n;
        h.nslots = p->next_id;
        h.nlanes = 1;
        h.lanes_off = lanes_off;
        memcpy(h.ncode, p->ncode, sizeof h.ncode);
        if (pwrite_all(fd, &h, sizeof h, 0) || pwrite_all(fd, lanes, sizeof *lanes, lanes_off) ||
            pwrite_all(fd, p->ops.v, p->ops.n * sizeof(rp_op_t), lanes[0].ops_off) ||
            pwrite_all(fd, p->ext.v, p->ext.n * 8, lanes[0].ext_off)) {
            snprintf(err, errlen, "cannot write the replay plan (%" PRIu64 " bytes): %s", off, strerror(errno));
            close(fd);
            free(lanes);
            return -1;
        }
        free(lanes);
        o->fd = fd;
        o->bytes = off;
        return 0;
    }
    char *m = mmap(NULL, off, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the replay plan: %s", strerror(errno));
        close(fd);
        free(lanes);
        return -1;
    }
    madvise(m, off, MADV_HUGEPAGE); /* shmem huge pages where the kernel allows them ("advise") */
    rp_plan_t *h = (rp_plan_t *)m;
    h->magic = RP_PLAN_MAGIC;
    h->bytes = off;
    h->nops = p->ops.n;
    h->nslots = p->next_id;
    h->nlanes = nl;
    h->threads = (uint32_t)p->threads;
    h->lanes_off = lanes_off;
    memcpy(h->ncode, p->ncode, sizeof h->ncode);
    memcpy(m + lanes_off, lanes, sizeof *lanes * nl);
    { /* threads: ops scattered to their lanes with their dependency words */
        uint64_t *on = calloc(nl, sizeof *on), *xn = calloc(nl, sizeof *xn);
        if (!on || !xn) { free(on); free(xn); munmap(m, off); close(fd); free(lanes); goto nomem; }
        size_t x = 0, d = 0;
        for (size_t i = 0; i < p->ops.n; i++) {
            uint32_t const li = p->oplane.v[i];
            rp_op_t op = p->ops.v[i];
            uint64_t *ext = (uint64_t *)(m + lanes[li].ext_off);
            unsigned nd = 0;
            for (; d < p->deps.n && p->deps.v[d] == i; d += 2) ext[xn[li]++] = p->deps.v[d + 1], nd++;
            op.flags |= (uint8_t)nd; /* at most two per op: object and address */
            unsigned const w = rp_ext_words(&op);
            for (unsigned k = 0; k < w; k++) ext[xn[li]++] = p->ext.v[x++];
            ((uint64_t *)(m + lanes[li].t_off))[on[li]] = p->times.v[i];
            ((rp_op_t *)(m + lanes[li].ops_off))[on[li]++] = op;
        }
        free(on);
        free(xn);
    }
    munmap(m, off);
    free(lanes);
    o->fd = fd;
    o->bytes = off;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory building the replay plan");
    return -1;
}

static void prep_free(prep_t *p) {
    map_free(&p->live); map_free(&p->displaced); map_free(&p->freed); map_free(&p->tids);
    for (size_t i = 0; i < p->lanes.n; i++) VFREE(p->lanes.v[i].free_ids);
    VFREE(p->lanes); VFREE(p->ops); VFREE(p->ext); VFREE(p->oplane); VFREE(p->times); VFREE(p->deps); VFREE(p->live_at);
}

/* ---- the traced program's malloc settings ------------------------------------ */
/* Keeps the header's settings glibc's malloc reads (other MALLOC_* names,
 * e.g. jemalloc's MALLOC_CONF, and non-malloc tunables are left out). */
static void trace_env(const tr_header_t *h, rp_prep_t *o) {
    for (size_t i = 0; h && i < h->nenv && o->nenv < RP_MAX_TRACE_ENV; i++) {
        const char *const e = h->env[i];
        if (!e) continue;
        if (rp_glibc_alias(e) && (o->env[o->nenv] = strdup(e))) o->nenv++;
        if (strncmp(e, "GLIBC_TUNABLES=", 15)) continue;
        size_t const n = strlen(e);
        char *t = malloc(n + 1);
        if (!t) continue;
        size_t len = (size_t)sprintf(t, "GLIBC_TUNABLES=");
        for (const char *q = e + 15; *q;) {
            size_t const l = strcspn(q, ":");
            if (!strncmp(q, "glibc.malloc.", 13) && memchr(q, '=', l)) {
                if (len > 15) t[len++] = ':';
                memcpy(t + len, q, l);
                len += l;
            }
            q += l + (q[l] == ':');
        }
        t[len] = 0;
        if (len > 15) o->env[o->nenv++] = t;
        else free(t);
    }
}

int rp_prep(const char *path, int threads, rp_prep_t *o, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    o->fd = -1;
    tr_error_t te;
    memset(&te, 0, sizeof te);
    tr_reader_t *r = tr_reader_open(path, &te);
    if (!r) {
        snprintf(err, errlen, "%s", te.msg[0] ? te.msg : "cannot open");
        return -1;
    }
    trace_env(tr_reader_header(r), o);
    tr_reader_prefetch(r);
    prep_t p;
    memset(&p, 0, sizeof p);
    p.threads = threads;
    p.next_id = 1; /* id 0: the NULL object */
    int rc = -1;
    if (map_init(&p.live, 1 << 16) || map_init(&p.displaced, 64) || map_init(&p.freed, threads ? 1 << 16 : 64) ||
        map_init(&p.tids, 64)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    /* Events in batches: the address map's slots of a whole batch are
     * prefetched before the batch is applied (the map's random accesses were
     * the other third of the time). A prefetch is only a hint: the map may
     * change in between. */
    enum { BATCH = 32 };
    tr_event_t ev[BATCH];
    int k = 1;
    while (k > 0) {
        unsigned n = 0;
        while (n < BATCH && (k = tr_reader_next(r, &ev[n])) > 0) {
            __builtin_prefetch(&p.live.t[hslot(ev[n].a, p.live.mask)]);
            __builtin_prefetch(&p.live.t[hslot(ev[n].ret, p.live.mask)], 1);
            n++;
        }
        for (unsigned i = 0; i < n; i++) {
            o->events++;
            if (event(&p, o, &ev[i])) {
                snprintf(err, errlen, "out of memory (or more than 2^32 objects) at event %" PRIu64, o->events);
                goto out;
            }
        }
    }
    if (k < 0) {
        const tr_error_t *e = tr_reader_error(r);
        if (e->code != TR_E_TRUNCATED) {
            snprintf(err, errlen, "%s", e->msg[0] ? e->msg : "unreadable");
            goto out;
        }
        o->truncated = 1;
        snprintf(o->warn, sizeof o->warn, "%s", e->msg);
    } else if (tr_reader_incomplete(r, o->warn, sizeof o->warn)) {
        o->truncated = 1;
    }
    o->threads = p.lanes.n;
    o->leftover = p.live.n + p.displaced.n;
    o->live_reuse += p.displaced.n;
    rc = write_plan(&p, o, err, errlen);
    o->final_live = p.live_bytes;
    if (rc == 0 && p.live_at.n) { /* handed over: the caller keeps it till exit */
        o->live_at = p.live_at.v;
        o->nlive_at = p.live_at.n;
        p.live_at.v = NULL;
        p.live_at.cap = 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    o->prep_ns = (uint64_t)(ts1.tv_sec - ts0.tv_sec) * 1000000000ull + (uint64_t)ts1.tv_nsec - (uint64_t)ts0.tv_nsec;
out:
    prep_free(&p);
    tr_reader_close(r);
    return rc;
}
