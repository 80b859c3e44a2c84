/* symbolize.c - offline symbolization of a trace's return addresses with
 * elfutils libdwfl: every module of the trace's map is reported at its load
 * bias (dwfl_report_elf), the build id checked against the trace's, and each
 * pc looked up once (cache) for its function, source file and line. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

typedef struct mod_s {
    uint64_t start, end, bias;
    const char *base; /* basename of the path */
    Dwfl_Module *dm;  /* NULL when the file could not be used */
} mod_t;

typedef struct slot_s { uint64_t pc; rp_frame_t *f; } slot_t;

struct rp_sym_s {
    Dwfl *dwfl;
    mod_t *mods; size_t nmods;
    slot_t *cache; size_t cap, count;
    char notes[2048]; size_t notes_len;
};

static char *const debuginfo_path = NULL;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = (char **)&debuginfo_path,
};

static void note(rp_sym_t *s, const char *path, const char *why) {
    int const n = snprintf(s->notes + s->notes_len, sizeof s->notes - s->notes_len, "%s: %s\n",
                           path, why);
    if (n > 0 && s->notes_len + (size_t)n < sizeof s->notes) s->notes_len += (size_t)n;
}

static const char *basename_of(const char *p) {
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

rp_sym_t *rp_sym_open(const tr_reader_t *r) {
    rp_sym_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    size_t const n = tr_reader_module_count(r);
    s->mods = calloc(n ? n : 1, sizeof *s->mods);
    s->cap = 1024;
    s->cache = calloc(s->cap, sizeof *s->cache);
    s->dwfl = dwfl_begin(&callbacks);
    if (!s->mods || !s->cache) { rp_sym_close(s); return NULL; }
    if (s->dwfl) dwfl_report_begin(s->dwfl);
    const char *exe = tr_reader_header(r)->exe;
    for (size_t i = 0; i < n; i++) {
        const tr_module_t *m = tr_reader_module(r, i);
        if (m->flags & TR_MODULE_UNLOADED) continue; /* the entry that ends a dlclosed one */
        const char *path = m->path && *m->path ? m->path : exe; /* the main program has no name */
        if (!path || !*path) continue;
        mod_t *md = &s->mods[s->nmods++];
        md->start = m->start;
        md->end = m->start + m->size;
        md->bias = m->bias;
        md->base = strdup(basename_of(path));
        if (!md->base) { rp_sym_close(s); return NULL; }
        if (path[0] != '/' || !s->dwfl) continue; /* linux-vdso.so.1 and the like */
        if (access(path, R_OK) != 0) { note(s, path, "not found here: left unsymbolized"); continue; }
        Dwfl_Module *dm = dwfl_report_elf(s->dwfl, md->base, path, -1, m->bias, false);
        if (!dm) { note(s, path, dwfl_errmsg(-1)); continue; }
        const unsigned char *bits;
        GElf_Addr vaddr;
        int const len = dwfl_module_build_id(dm, &bits, &vaddr);
        if (m->build_id_len && len > 0 &&
            ((size_t)len != m->build_id_len || memcmp(bits, m->build_id, (size_t)len) != 0)) {
            note(s, path, "build id differs from the traced one (rebuilt?): left unsymbolized");
            continue;
        }
        md->dm = dm;
    }
    if (s->dwfl) dwfl_report_end(s->dwfl, NULL, NULL);
    return s;
}

const char *rp_sym_notes(const rp_sym_t *s) { return s->notes; }

static void frame_free(rp_frame_t *f);

void rp_sym_close(rp_sym_t *s) {
    if (!s) return;
    if (s->dwfl) dwfl_end(s->dwfl);
    for (size_t i = 0; i < s->nmods; i++) free((char *)s->mods[i].base);
    for (size_t i = 0; i < s->cap && s->cache; i++) {
        frame_free(s->cache[i].f);
    }
    free(s->cache);
    free(s->mods);
    free(s);
}

static char *die_name(Dwarf_Die *die) {
    Dwarf_Attribute at;
    const char *nm = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &at));
    if (!nm) nm = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &at));
    return nm ? strdup(nm) : NULL;
}

static void frame_free(rp_frame_t *f) {
    while (f) {
        rp_frame_t *c = (rp_frame_t *)f->caller;
        free((char *)f->func);
        free((char *)f->file);
        free(f);
        f = c;
    }
}

/* Names the innermost function at addr (inlined or not, so that it matches the
 * line dwfl reports) and adds a caller frame for each function it was inlined
 * into, with the line of the inlined call (DW_AT_call_file/DW_AT_call_line). */
static void inline_chain(Dwfl_Module *dm, Dwarf_Addr addr, rp_frame_t *f) {
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(dm, addr, &bias);
    if (!cu) return;
    Dwarf_Die *scopes = NULL, *chain = NULL;
    int const n = dwarf_getscopes(cu, addr - bias, &scopes);
    int i0 = 0;
    while (i0 < n && dwarf_tag(&scopes[i0]) != DW_TAG_inlined_subroutine &&
           dwarf_tag(&scopes[i0]) != DW_TAG_subprogram)
        i0++;
    if (i0 >= n) { free(scopes); return; }
    f->func = die_name(&scopes[i0]);
    /* dwarf_getscopes follows an inlined function to its abstract origin; the
     * functions it was inlined into are the parents of the concrete DIE. */
    int const m = dwarf_getscopes_die(&scopes[i0], &chain);
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0) files = NULL;
    rp_frame_t *cur = f;
    int inl = dwarf_tag(&scopes[i0]) == DW_TAG_inlined_subroutine ? 0 : -1; /* index in chain */
    for (int j = 1; inl >= 0 && j < m; j++) {
        int const tag = dwarf_tag(&chain[j]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
        rp_frame_t *c = calloc(1, sizeof *c);
        if (!c) break;
        c->func = die_name(&chain[j]);
        c->module = f->module;
        c->offset = f->offset;
        Dwarf_Attribute at;
        Dwarf_Word file = 0, line = 0;
        if (dwarf_formudata(dwarf_attr(&chain[inl], DW_AT_call_line, &at), &line) == 0) c->line = (int)line;
        if (files && dwarf_formudata(dwarf_attr(&chain[inl], DW_AT_call_file, &at), &file) == 0 && file < nfiles) {
            const char *fn = dwarf_filesrc(files, file, NULL, NULL);
            if (fn) c->file = strdup(fn);
        }
        cur->caller = c;
        cur = c;
        inl = tag == DW_TAG_inlined_subroutine ? j : -1;
    }
    free(chain);
    free(scopes);
}

static rp_frame_t *lookup(rp_sym_t *s, uint64_t pc) {
    rp_frame_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    uint64_t const addr = pc ? pc - 1 : 0; /* return address -> inside the call */
    for (size_t i = 0; i < s->nmods; i++) {
        mod_t *m = &s->mods[i];
        if (addr < m->start || addr >= m->end) continue;
        f->module = m->base;
        f->offset = addr - m->bias;
        if (!m->dm) break;
        inline_chain(m->dm, addr, f);
        if (!f->func) {
            const char *nm = dwfl_module_addrname(m->dm, addr);
            if (nm) f->func = strdup(nm);
        }
        Dwfl_Line *ln = dwfl_module_getsrc(m->dm, addr);
        if (ln) {
            int line = 0;
            const char *file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
            if (file && line > 0) {
                f->file = strdup(file);
                f->line = line;
            }
        }
        break;
    }
    if (!f->module) f->offset = addr;
    return f;
}

static size_t home(const rp_sym_t *s, uint64_t pc) {
    return (size_t)((pc * 0x9E3779B97F4A7C15ull) >> 20) & (s->cap - 1);
}

const rp_frame_t *rp_sym_pc(rp_sym_t *s, uint64_t pc) {
    static const rp_frame_t none = { 0 };
    size_t i = home(s, pc);
    while (s->cache[i].f) {
        if (s->cache[i].pc == pc) return s->cache[i].f;
        i = (i + 1) & (s->cap - 1);
    }
    if ((s->count + 1) * 2 > s->cap) { /* grow and retry */
        slot_t *nc = calloc(s->cap * 2, sizeof *nc);
        if (!nc) return &none;
        slot_t *old = s->cache;
        size_t const ocap = s->cap;
        s->cache = nc;
        s->cap *= 2;
        for (size_t k = 0; k < ocap; k++) {
            if (!old[k].f) continue;
            size_t j = home(s, old[k].pc);
            while (nc[j].f) j = (j + 1) & (s->cap - 1);
            nc[j] = old[k];
        }
        free(old);
        i = home(s, pc);
        while (s->cache[i].f) i = (i + 1) & (s->cap - 1);
    }
    rp_frame_t *f = lookup(s, pc);
    if (!f) return &none;
    s->cache[i].pc = pc;
    s->cache[i].f = f;
    s->count++;
    return f;
}

void rp_frame_str(const rp_frame_t *f, char *buf, size_t cap, int with_file) {
    if (f->func && f->file && with_file)
        snprintf(buf, cap, "%s (%s:%d)", f->func, basename_of(f->file), f->line);
    else if (f->func)
        snprintf(buf, cap, "%s", f->func);
    else if (f->module)
        snprintf(buf, cap, "%s+0x%llx", f->module, (unsigned long long)f->offset);
    else
        snprintf(buf, cap, "0x%llx", (unsigned long long)f->offset);
}

int rp_frame_is_alloc(const rp_frame_t *f) {
    static const char *const names[] = {
        "malloc", "calloc", "realloc", "reallocarray", "free", "memalign", "posix_memalign",
        "aligned_alloc", "valloc", "pvalloc", "__libc_malloc", "__libc_calloc", "__libc_realloc",
        "__libc_memalign", "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
        "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t", NULL,
    };
    if (f->module && strncmp(f->module, "libmalloc-record", 16) == 0) return 1;
    if (!f->func) return 0;
    for (int i = 0; names[i]; i++)
        if (strcmp(f->func, names[i]) == 0) return 1;
    return 0;
}
