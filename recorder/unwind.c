/* unwind.c - the recorder's own stack walker for stacks the per-thread cache
 * (stacks.c) has not seen: .eh_frame's rule for each return address,
 * worked out once per pc and kept in a process-wide lock-free table, so a
 * frame costs a probe and two loads. libunwind's unw_backtrace keeps such
 * rules too, but in a per-thread table it rebuilds from DWARF each time it
 * misses, and big programs (cc1) miss it often: ~2.8K instructions a stack.
 *
 * Modelled: the frames of compiled code on x86-64, whose CFA is rsp or rbp
 * plus a constant, whose return address is at CFA - 8 (or undefined: the
 * outermost frame), and whose rbp is kept or saved at a constant offset
 * from the CFA. Anything else (no unwind info, signal frames, CFA or
 * register expressions, realigned (DRAP) frames, a frame leaving the
 * thread's stack) makes rec_unwind return -1, and the caller unwinds the
 * whole stack with libunwind. Where both apply they must agree, frame for
 * frame: the rule of a frame is DWARF's, and the walk stops where
 * libunwind's does (an undefined return address, a return address below
 * 0x4000). MALLOC_RECORD_STACK_VERIFY=1 compares them on every stack. */
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "rec_internal.h"

/* ---- rules ------------------------------------------------------------------
 * One 64-bit word: bits 0-4 flags, bits 16-31 where rbp is saved from the
 * CFA, bits 32-63 the CFA offset (both signed). 0: not worked out. */
enum { UR_SET = 1, UR_OK = 2, UR_LAST = 4, UR_CFA_RBP = 8, UR_RBP_SAVED = 16 };

static inline int64_t r_cfa_off(uint64_t r) { return (int64_t)r >> 32; }
static inline int64_t r_rbp_off(uint64_t r) { return (int16_t)(r >> 16); }

/* ---- the table: key -> rule, open addressing --------------------------------
 * A key is the pc with the low 16 bits of the code generation above it (user
 * pcs are below 2^47), so one compare matches both, and a dlclose (a new
 * generation) turns every key stale at once. A slot's key goes from 0 or a
 * stale key to BUSY, then, once its rule is stored, to the new key
 * (release): a reader that matches a key sees its rule. After 2^16
 * generations keys could match again: the walker then stops for good
 * (libunwind does all the stacks). */
#define T_BITS 16
#define T_SIZE (1u << T_BITS)
#define T_PROBES 8
#define T_BUSY 1ull
typedef struct {
    _Atomic uint64_t key, rule;
} tent_t;
static tent_t *tab;

void rec_unwind_init(void) {
    if (tab) return;
    void *p = mmap(NULL, sizeof(tent_t) * T_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) tab = p;
}

static inline uint64_t t_key(uint64_t pc, uint32_t gen) { return pc | (uint64_t)(gen & 0xffff) << 48; }
static inline uint32_t t_slot(uint64_t key) { return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - T_BITS)); }

static inline uint64_t t_get(tent_t *t, uint64_t key) {
    uint32_t s = t_slot(key);
    for (int i = 0; i < T_PROBES; i++, s = (s + 1) & (T_SIZE - 1)) {
        uint64_t const k = atomic_load_explicit(&t[s].key, memory_order_acquire);
        if (k == key) return atomic_load_explicit(&t[s].rule, memory_order_relaxed);
        if (k == 0) return 0;
    }
    return 0;
}

/* 0 if no slot could take it. */
static int t_put(uint64_t key, uint64_t rule) {
    uint64_t const cur = key >> 48;
    uint32_t s = t_slot(key);
    for (int i = 0; i < T_PROBES; i++, s = (s + 1) & (T_SIZE - 1)) {
        uint64_t k = atomic_load_explicit(&tab[s].key, memory_order_acquire);
        if (k == key) return 1; /* another thread's */
        if ((k == 0 || (k != T_BUSY && k >> 48 != cur)) &&
            atomic_compare_exchange_strong_explicit(&tab[s].key, &k, T_BUSY, memory_order_acquire,
                                                    memory_order_relaxed)) {
            atomic_store_explicit(&tab[s].rule, rule, memory_order_relaxed);
            atomic_store_explicit(&tab[s].key, key, memory_order_release);
            return 1;
        }
    }
    return 0;
}

/* ---- DWARF call frame information (the subset compilers emit) ------------- */
typedef struct {
    const uint8_t *p, *end;
    int bad;
} rd_t;

static inline uint8_t rd_u8(rd_t *r) {
    if (r->p >= r->end) { r->bad = 1; return 0; }
    return *r->p++;
}
static uint64_t rd_uleb(rd_t *r) {
    uint64_t v = 0;
    for (unsigned sh = 0; sh < 64; sh += 7) {
        uint8_t const b = rd_u8(r);
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) return v;
    }
    r->bad = 1;
    return 0;
}
static int64_t rd_sleb(rd_t *r) {
    uint64_t v = 0;
    unsigned sh = 0;
    uint8_t b;
    do {
        b = rd_u8(r);
        if (sh < 64) v |= (uint64_t)(b & 0x7f) << sh;
        sh += 7;
    } while ((b & 0x80) && !r->bad && sh < 70);
    if (sh < 64 && (b & 0x40)) v |= ~0ull << sh;
    return (int64_t)v;
}
static uint64_t rd_fixed(rd_t *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) { r->bad = 1; r->p = r->end; return 0; }
    uint64_t v = 0;
    memcpy(&v, r->p, n);
    r->p += n;
    return v;
}

/* A DW_EH_PE-encoded value; datarel is relative to data. */
static uint64_t rd_enc(rd_t *r, uint8_t enc, uintptr_t data) {
    if (enc == 0xff) return 0; /* omitted */
    uintptr_t const at = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case 0x00: v = rd_fixed(r, 8); break;
    case 0x01: v = rd_uleb(r); break;
    case 0x02: v = rd_fixed(r, 2); break;
    case 0x03: v = rd_fixed(r, 4); break;
    case 0x04: v = rd_fixed(r, 8); break;
    case 0x09: v = (uint64_t)rd_sleb(r); break;
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_fixed(r, 2); break;
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_fixed(r, 4); break;
    case 0x0c: v = rd_fixed(r, 8); break;
    default: r->bad = 1; return 0;
    }
    switch (enc & 0x70) {
    case 0x00: break;
    case 0x10: v += at; break;   /* pcrel */
    case 0x30: v += data; break; /* datarel */
    default: r->bad = 1; return 0;
    }
    if (enc & 0x80) r->bad = 1; /* indirect: not in unwind tables of compiled code */
    return v;
}

/* The rule state of one row: only what the walk uses is tracked; a rule
 * for rsp or the return address other than the plain one, or a CFA
 * register other than rsp and rbp, makes the frame unmodelled. */
enum { DW_RBP = 6, DW_RSP = 7, DW_RA = 16 };
enum { RB_KEPT, RB_SAVED, RB_OTHER };
typedef struct {
    int cfa_reg;
    int64_t cfa_off;
    int rbp, ra_undef, other;
    int64_t rbp_off, ra_off;
} row_t;

typedef struct {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc;
    int has_z;
    const uint8_t *ins, *ins_end;
} cie_t;

static int parse_cie(const uint8_t *c, cie_t *out) {
    uint32_t len;
    memcpy(&len, c, 4);
    if (len == 0 || len == 0xffffffffu) return -1;
    rd_t r = { c + 4, c + 4 + len, 0 };
    if (rd_fixed(&r, 4) != 0) return -1; /* CIE id */
    uint8_t const ver = rd_u8(&r);
    if (ver != 1 && ver != 3 && ver != 4) return -1;
    const char *aug = (const char *)r.p;
    size_t const alen = strnlen(aug, (size_t)(r.end - r.p));
    r.p += alen + 1;
    if (ver == 4) { rd_u8(&r); rd_u8(&r); } /* address and segment sizes */
    out->code_align = rd_uleb(&r);
    out->data_align = rd_sleb(&r);
    uint64_t const ra = ver == 1 ? rd_u8(&r) : rd_uleb(&r);
    if (ra != DW_RA) return -1;
    out->fde_enc = 0; /* absptr */
    out->has_z = aug[0] == 'z';
    if (out->has_z) {
        uint64_t const dlen = rd_uleb(&r);
        if (r.bad || dlen > (uint64_t)(r.end - r.p)) return -1;
        rd_t d = { r.p, r.p + dlen, 0 };
        for (size_t i = 1; i < alen; i++) {
            switch (aug[i]) {
            case 'R': out->fde_enc = rd_u8(&d); break;
            case 'L': rd_u8(&d); break;
            case 'P': { uint8_t const e = rd_u8(&d); rd_enc(&d, e & 0x7f, 0); break; }
            default: return -1; /* 'S' (signal frame) and anything unknown */
            }
        }
        if (d.bad) return -1;
        r.p += dlen;
    } else if (alen) {
        return -1;
    }
    if (r.bad) return -1;
    out->ins = r.p;
    out->ins_end = r.end;
    return 0;
}

#define STATE_DEPTH 8

/* Runs CFA instructions [p, end) while their rows start at or below pc;
 * init is the CIE's row (DW_CFA_restore), NULL while running the CIE's own.
 * Returns -1 on anything not modelled. */
static int run_cfa(const cie_t *c, const uint8_t *p, const uint8_t *end, uint64_t loc, uint64_t pc,
                   row_t *row, const row_t *init) {
    rd_t r = { p, end, 0 };
    row_t stack[STATE_DEPTH];
    int depth = 0;
    while (r.p < r.end && !r.bad) {
        uint8_t const op = rd_u8(&r);
        uint64_t reg = op & 0x3f, adv = 0;
        int64_t off;
        switch (op >> 6) {
        case 1: adv = (op & 0x3f) * c->code_align; goto advance;
        case 2: off = (int64_t)rd_uleb(&r) * c->data_align; goto offset;
        case 3: goto restore;
        default: break;
        }
        switch (op) {
        case 0x00: continue; /* nop */
        case 0x02: adv = rd_fixed(&r, 1) * c->code_align; goto advance;
        case 0x03: adv = rd_fixed(&r, 2) * c->code_align; goto advance;
        case 0x04: adv = rd_fixed(&r, 4) * c->code_align; goto advance;
        case 0x05: reg = rd_uleb(&r); off = (int64_t)rd_uleb(&r) * c->data_align; goto offset;
        case 0x11: reg = rd_uleb(&r); off = rd_sleb(&r) * c->data_align; goto offset;
        case 0x06: reg = rd_uleb(&r); goto restore;
        case 0x07: /* undefined */
            reg = rd_uleb(&r);
            if (reg == DW_RA) row->ra_undef = 1;
            else if (reg == DW_RBP || reg == DW_RSP) row->other = 1;
            continue;
        case 0x08: /* same value */
            reg = rd_uleb(&r);
            if (reg == DW_RBP) row->rbp = RB_KEPT;
            else if (reg == DW_RA || reg == DW_RSP) row->other = 1;
            continue;
        case 0x09: /* register */
            reg = rd_uleb(&r);
            rd_uleb(&r);
            if (reg == DW_RBP || reg == DW_RA || reg == DW_RSP) row->other = 1;
            continue;
        case 0x0a:
            if (depth == STATE_DEPTH) return -1;
            stack[depth++] = *row;
            continue;
        case 0x0b:
            if (depth == 0) return -1;
            *row = stack[--depth]; /* the CFA rule too, as GCC's epilogues expect */
            continue;
        case 0x0c: row->cfa_reg = (int)rd_uleb(&r); row->cfa_off = (int64_t)rd_uleb(&r); continue;
        case 0x12: row->cfa_reg = (int)rd_uleb(&r); row->cfa_off = rd_sleb(&r) * c->data_align; continue;
        case 0x0d: row->cfa_reg = (int)rd_uleb(&r); continue;
        case 0x0e: row->cfa_off = (int64_t)rd_uleb(&r); continue;
        case 0x13: row->cfa_off = rd_sleb(&r) * c->data_align; continue;
        case 0x0f: return -1; /* CFA expression */
        case 0x10: case 0x16: { /* expression, val_expression */
            reg = rd_uleb(&r);
            uint64_t const n = rd_uleb(&r);
            if (r.bad || n > (uint64_t)(r.end - r.p)) return -1;
            r.p += n;
            if (reg == DW_RBP || reg == DW_RA || reg == DW_RSP) row->other = 1;
            continue;
        }
        case 0x14: case 0x15: /* val_offset(_sf) */
            reg = rd_uleb(&r);
            if (op == 0x14) rd_uleb(&r); else rd_sleb(&r);
            if (reg == DW_RBP || reg == DW_RA || reg == DW_RSP) row->other = 1;
            continue;
        case 0x2e: rd_uleb(&r); continue; /* GNU_args_size */
        case 0x2f: /* GNU_negative_offset_extended */
            reg = rd_uleb(&r);
            off = -(int64_t)rd_uleb(&r) * c->data_align;
            goto offset;
        default: return -1; /* set_loc and anything else */
        }
    advance:
        if (loc + adv > pc) return r.bad ? -1 : 0;
        loc += adv;
        continue;
    offset:
        if (reg == DW_RBP) row->rbp = RB_SAVED, row->rbp_off = off;
        else if (reg == DW_RA) row->ra_off = off, row->ra_undef = 0;
        else if (reg == DW_RSP) row->other = 1;
        continue;
    restore:
        if (!init) return -1;
        if (reg == DW_RBP) row->rbp = init->rbp, row->rbp_off = init->rbp_off;
        else if (reg == DW_RA) row->ra_off = init->ra_off, row->ra_undef = init->ra_undef;
        else if (reg == DW_RSP) row->other |= init->other;
        continue;
    }
    return r.bad ? -1 : 0;
}

/* The rule of pc from the FDE at fde (0 flags but UR_SET if not modelled). */
static uint64_t rule_from_fde(const uint8_t *fde, uint64_t pc, uintptr_t hdr) {
    uint32_t len, cie_off;
    memcpy(&len, fde, 4);
    if (len == 0 || len == 0xffffffffu) return UR_SET;
    memcpy(&cie_off, fde + 4, 4);
    if (cie_off == 0) return UR_SET;
    cie_t c;
    if (parse_cie(fde + 4 - cie_off, &c) != 0) return UR_SET;
    rd_t r = { fde + 8, fde + 4 + len, 0 };
    uint64_t const begin = rd_enc(&r, c.fde_enc, hdr);
    uint64_t const range = rd_enc(&r, c.fde_enc & 0x0f, 0);
    if (r.bad || pc < begin || pc - begin >= range) return UR_SET;
    if (c.has_z) {
        uint64_t const n = rd_uleb(&r);
        if (r.bad || n > (uint64_t)(r.end - r.p)) return UR_SET;
        r.p += n;
    }
    row_t init = { .cfa_reg = -1, .rbp = RB_KEPT };
    if (run_cfa(&c, c.ins, c.ins_end, 0, UINT64_MAX, &init, NULL) != 0) return UR_SET;
    row_t row = init;
    if (run_cfa(&c, r.p, r.end, begin, pc, &row, &init) != 0) return UR_SET;
    if (row.other || (row.cfa_reg != DW_RSP && row.cfa_reg != DW_RBP)) return UR_SET;
    if (row.ra_undef) return UR_SET | UR_OK | UR_LAST;
    if (row.ra_off != -8 || row.cfa_off < INT32_MIN || row.cfa_off > INT32_MAX) return UR_SET;
    uint64_t rule = UR_SET | UR_OK | (row.cfa_reg == DW_RBP ? UR_CFA_RBP : 0) | (uint64_t)row.cfa_off << 32;
    if (row.rbp == RB_SAVED) {
        if (row.rbp_off < INT16_MIN || row.rbp_off > INT16_MAX) return UR_SET;
        rule |= UR_RBP_SAVED | (uint64_t)(uint16_t)(int16_t)row.rbp_off << 16;
    }
    return rule;
}

static inline intptr_t s32_at(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The FDE of pc from the module's .eh_frame_hdr search table. */
static const uint8_t *find_fde(uintptr_t hdr, uint64_t pc) {
    const uint8_t *h = (const uint8_t *)hdr;
    if (h[0] != 1 || h[3] != 0x3b) return NULL; /* version 1, datarel sdata4 table */
    rd_t r = { h + 4, h + 4 + 16, 0 };
    rd_enc(&r, h[1], hdr); /* eh_frame_ptr */
    uint64_t const n = rd_enc(&r, h[2], hdr);
    if (r.bad || n == 0 || n > (1u << 28)) return NULL;
    const uint8_t *const t = r.p; /* n pairs (start, fde), sdata4 from hdr */
    uint64_t lo = 0, hi = n; /* the last entry starting at or below pc */
    if (hdr + (uintptr_t)s32_at(t) > pc) return NULL;
    while (hi - lo > 1) {
        uint64_t const mid = lo + (hi - lo) / 2;
        if (hdr + (uintptr_t)s32_at(t + 8 * mid) <= pc) lo = mid;
        else hi = mid;
    }
    return (const uint8_t *)(hdr + (uintptr_t)s32_at(t + 8 * lo + 4));
}

typedef struct {
    uint64_t pc, rule;
} find_t;

/* Under the loader's lock: no module can go away while its tables are read. */
static int find_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    find_t *f = data;
    uintptr_t hdr = 0;
    int in = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t const a = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && f->pc >= a && f->pc - a < ph->p_memsz) in = 1;
        else if (ph->p_type == PT_GNU_EH_FRAME) hdr = a;
    }
    if (!in) return 0;
    const uint8_t *fde = hdr ? find_fde(hdr, f->pc) : NULL;
    f->rule = fde ? rule_from_fde(fde, f->pc, hdr) : UR_SET;
    return 1;
}

/* The rule of pc worked out and kept; 0 if it cannot be kept (a crowded
 * table: libunwind then). */
static __attribute__((noinline)) uint64_t rule_slow(uint64_t pc, uint64_t key) {
    find_t f = { pc, UR_SET };
    dl_iterate_phdr(find_module, &f);
    return t_put(key, f.rule) ? f.rule : 0;
}

/* The walk; with f, noting the slots (the compiler makes two of it). */
static inline __attribute__((always_inline)) int walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t hi,
                                                      uint32_t gen, uint64_t *pcs, int max, rec_slots_t *f) {
    tent_t *const t = tab;
    if (!t || max <= 0 || gen > 0xffff || pc >> 47) return -1; /* generations start at 1 */
    uint64_t const g = t_key(0, gen);
    uintptr_t bp_at = 0; /* where bp was loaded from, 0: passed in */
    int n = 0;
    pcs[n++] = pc;
    while (n < max) {
        uint64_t const key = (pc - 1) | g; /* a return address: the call is before it */
        uint64_t rule = t_get(t, key);
        if (REC_UNLIKELY(!rule) && !(rule = rule_slow(pc - 1, key))) return -1;
        if (REC_UNLIKELY((rule & (UR_OK | UR_LAST)) != UR_OK)) {
            if (rule & UR_LAST) break;
            return -1;
        }
        if (f && (rule & UR_CFA_RBP)) {
            if (!bp_at) f->need_bp = 1;
            else rec_slot_add(f, bp_at, bp);
        }
        uintptr_t const cfa = ((rule & UR_CFA_RBP) ? bp : sp) + (uintptr_t)r_cfa_off(rule);
        if (REC_UNLIKELY(cfa <= sp || cfa > hi)) return -1;
        if (rule & UR_RBP_SAVED) {
            uintptr_t const at = cfa + (uintptr_t)r_rbp_off(rule);
            if (REC_UNLIKELY(at < sp || at + 8 > hi)) return -1;
            bp = *(const uintptr_t *)at;
            bp_at = at;
        }
        pc = *(const uintptr_t *)(cfa - 8);
        if (f) rec_slot_add(f, cfa - 8, pc);
        sp = cfa;
        if (pc < 0x4000) break;
        if (REC_UNLIKELY(pc >> 47)) return -1; /* not a user pc: a key could not hold it */
        pcs[n++] = pc;
    }
    return n;
}

int rec_unwind(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t hi, uint32_t gen, uint64_t *pcs, int max) {
    return walk(pc, sp, bp, hi, gen, pcs, max, NULL);
}

int rec_unwind_slots(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t hi, uint32_t gen, uint64_t *pcs, int max,
                     rec_slots_t *f) {
    return walk(pc, sp, bp, hi, gen, pcs, max, f);
}
