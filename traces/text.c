/* text.c - the dump line and its importer (FORMAT.md section 6). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* ---- formatting ------------------------------------------------------------ */
/* o->n counts every byte asked for, as snprintf does, even past o->cap:
 * the caller learns the length a line needs and formats it again. */
typedef struct out_s { char *p; size_t cap, n; } out_t;

static void emit(out_t *o, const char *fmt, ...) {
    int const fits = o->n < o->cap;
    va_list ap;
    va_start(ap, fmt);
    int const k = vsnprintf(fits ? o->p + o->n : NULL, fits ? o->cap - o->n : 0, fmt, ap);
    va_end(ap);
    if (k > 0) o->n += (size_t)k;
}

static void emit_escaped(out_t *o, const char *s) {
    for (; s && *s; s++) {
        unsigned char const c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '%') emit(o, "%%%02X", c);
        else if (o->n + 1 < o->cap) { o->p[o->n++] = (char)c; o->p[o->n] = 0; }
        else o->n++;
    }
}

/* A header string, escaped, of any length. */
static void put_escaped(FILE *out, const char *s) {
    for (; s && *s; s++) {
        unsigned char const c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '%') fprintf(out, "%%%02X", c);
        else putc(c, out);
    }
}

/* seq - release_seq, the record's drelease (0 for a release_seq past seq,
 * which the writer stores as seq) */
static uint64_t drelease(const tr_event_t *ev) {
    return ev->release_seq <= ev->seq ? ev->seq - ev->release_seq : 0;
}

size_t text_format_event(char *buf, size_t cap, const tr_event_t *ev) {
    out_t o = { buf, cap, 0 };
    if (cap) buf[0] = 0;
    emit(&o, "%" PRIu64 " %u %" PRIu64 " %s", ev->seq, ev->tid, ev->t_ns, tr_op_name(ev->op));
    switch (ev->op) {
    case TR_OP_MALLOC: case TR_OP_VALLOC: case TR_OP_PVALLOC:
        emit(&o, " %" PRIu64 " -> 0x%" PRIx64, ev->a, ev->ret);
        break;
    case TR_OP_CALLOC: case TR_OP_MEMALIGN: case TR_OP_POSIX_MEMALIGN: case TR_OP_ALIGNED_ALLOC:
        emit(&o, " %" PRIu64 " %" PRIu64 " -> 0x%" PRIx64, ev->a, ev->b, ev->ret);
        break;
    case TR_OP_REALLOC: /* drelease last, as in the record */
        emit(&o, " 0x%" PRIx64 " %" PRIu64 " %" PRIu64 " -> 0x%" PRIx64, ev->a, ev->b, drelease(ev), ev->ret);
        break;
    case TR_OP_REALLOCARRAY:
        emit(&o, " 0x%" PRIx64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " -> 0x%" PRIx64, ev->a, ev->b, ev->c,
             drelease(ev), ev->ret);
        break;
    case TR_OP_FREE:
        emit(&o, " 0x%" PRIx64, ev->a);
        break;
    case TR_OP_MALLOPT:
        emit(&o, " %" PRId64 " %" PRId64 " -> %" PRId64, (int64_t)ev->a, (int64_t)ev->b, (int64_t)ev->ret);
        break;
    case TR_OP_MALLOC_TRIM:
        emit(&o, " %" PRIu64 " -> %" PRId64, ev->a, (int64_t)ev->ret);
        break;
    case TR_OP_THREAD_START:
        emit(&o, " %" PRIu64, ev->a);
        break;
    case TR_OP_FORK:
        emit(&o, " -> %" PRId64, (int64_t)ev->ret);
        break;
    case TR_OP_EXEC:
        emit(&o, " ");
        emit_escaped(&o, ev->str);
        break;
    default:
        break;
    }
    return o.n;
}

void text_format_header(FILE *out, const tr_header_t *h) {
    fprintf(out, "# malloc trace, format version %u\n", h->version);
    fprintf(out, "# pid: %u\n# ppid: %u\n", h->pid, h->ppid);
    fprintf(out, "# start_real_ns: %" PRIu64 "\n# start_mono_ns: %" PRIu64 "\n", h->start_real_ns, h->start_mono_ns);
    fprintf(out, "# page_size: %u\n# ncpu: %u\n", h->page_size, h->ncpu);
    fputs("# exe: ", out), put_escaped(out, h->exe), putc('\n', out);
    for (size_t i = 0; i < h->argc; i++) fputs("# arg: ", out), put_escaped(out, h->argv[i]), putc('\n', out);
    fputs("# glibc: ", out), put_escaped(out, h->glibc_version), putc('\n', out);
    for (size_t i = 0; i < h->nenv; i++) fputs("# env: ", out), put_escaped(out, h->env[i]), putc('\n', out);
    fputs("# tool: ", out), put_escaped(out, h->tool), putc('\n', out);
}

/* ---- input lines -------------------------------------------------------------- */
int text_next_line(text_src_t *src) {
    if (src->again) { src->again = 0; return 1; }
    size_t n = 0;
    int c;
    src->cut = 0;
    while ((c = getc_unlocked(src->f)) != EOF && c != '\n') {
        if (c == 0 || n >= TEXT_LINE_MAX) {
            src->line++;
            src->bad = c ? "longer than 1 MiB: not text" : "a NUL byte: binary data, not text";
            return -1;
        }
        if (n + 1 >= src->cap) {
            size_t const cap = src->cap ? src->cap * 2 : 256;
            char *b = realloc(src->buf, cap);
            if (!b) { src->line++; src->bad = "out of memory"; return -1; }
            src->buf = b;
            src->cap = cap;
        }
        src->buf[n++] = (char)c;
    }
    if (c == EOF && (n == 0 || ferror(src->f))) return 0;
    src->line++;
    src->cut = c == EOF;
    while (n && src->buf[n - 1] == '\r') n--;
    if (!src->buf) { /* an empty first line */
        src->buf = malloc(src->cap = 256);
        if (!src->buf) { src->bad = "out of memory"; return -1; }
    }
    src->buf[n] = 0;
    return 1;
}

int text_cut(const text_src_t *src) {
    if (!src->cut) return 0;
    for (const char *p = src->buf; *p; p++)
        if (*p != ' ' && *p != '\t') return 1;
    return 0;
}

int text_cut_msg(char *msg, size_t cap, unsigned long line) {
    text_fail(msg, cap, line, "the file ends inside this line (cut short?): the events before it were "
              "imported, as a trace without END");
    return 1;
}

/* ---- import ------------------------------------------------------------------- */
typedef struct hdr_build_s {
    tr_header_t h;
    char **strs; size_t nstrs, cstrs;     /* every string made, freed by hdr_free */
    const char **argv, **env; size_t cargv, cenv;
} hdr_build_t;

static int xdigit(char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

static char *unescape_raw(const char *s) {
    size_t const n = strlen(s);
    char *out = malloc(n + 1), *p = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && xdigit(s[i + 1]) && xdigit(s[i + 2])) {
            char const hx[3] = { s[i + 1], s[i + 2], 0 };
            *p++ = (char)strtoul(hx, NULL, 16);
            i += 2;
        } else {
            *p++ = s[i];
        }
    }
    *p = 0;
    return out;
}

/* Appends p to the array *v of *cap entries holding n; 0, or -1 out of memory. */
static int push(void *v, size_t *cap, size_t n, const void *p) {
    void **a = *(void ***)v;
    if (n == *cap) {
        size_t const c = *cap ? *cap * 2 : 16;
        a = realloc(a, c * sizeof *a);
        if (!a) return -1;
        *(void ***)v = a;
        *cap = c;
    }
    a[n] = (void *)p;
    return 0;
}

/* Unescapes a header value, kept until hdr_free. NULL when out of memory. */
static char *unescape(hdr_build_t *b, const char *s) {
    char *out = unescape_raw(s);
    if (out && push(&b->strs, &b->cstrs, b->nstrs, out) == 0) { b->nstrs++; return out; }
    free(out);
    return NULL;
}

static void hdr_free(hdr_build_t *b) {
    for (size_t i = 0; i < b->nstrs; i++) free(b->strs[i]);
    free(b->strs);
    free(b->argv);
    free(b->env);
}

static int parse_u64(const char *s, uint64_t *v);

/* An unsigned header number of at most max; 0, or -1. */
static int hdr_num(const char *val, uint64_t max, uint64_t *v) {
    return parse_u64(val, v) || *v > max ? -1 : 0;
}

/* "# key: value" lines before the first event set header fields; every
 * argument and environment entry is kept, however many. 0, or -1 with msg
 * filled (a bad number, out of memory). */
static int header_line(hdr_build_t *b, const char *line, unsigned long lno, char *msg, size_t cap) {
    const char *colon = strstr(line, ": ");
    if (line[0] != '#' || line[1] != ' ' || !colon) return 0;
    size_t const klen = (size_t)(colon - (line + 2));
    const char *key = line + 2, *val = colon + 2;
#define KEY(k) (klen == strlen(k) && strncmp(key, k, klen) == 0)
    tr_header_t *h = &b->h;
    uint64_t v = 0;
    int bad = 0, nomem = 0;
    if (KEY("pid")) bad = hdr_num(val, UINT32_MAX, &v), h->pid = (uint32_t)v;
    else if (KEY("ppid")) bad = hdr_num(val, UINT32_MAX, &v), h->ppid = (uint32_t)v;
    else if (KEY("start_real_ns")) bad = hdr_num(val, UINT64_MAX, &h->start_real_ns);
    else if (KEY("start_mono_ns")) bad = hdr_num(val, UINT64_MAX, &h->start_mono_ns);
    else if (KEY("page_size")) bad = hdr_num(val, UINT32_MAX, &v), h->page_size = (uint32_t)v;
    else if (KEY("ncpu")) bad = hdr_num(val, UINT32_MAX, &v), h->ncpu = (uint32_t)v;
    else if (KEY("exe")) nomem = !(h->exe = unescape(b, val));
    else if (KEY("glibc")) nomem = !(h->glibc_version = unescape(b, val));
    else if (KEY("tool")) nomem = !(h->tool = unescape(b, val));
    else if (KEY("arg")) {
        char *s = unescape(b, val);
        nomem = !s || push(&b->argv, &b->cargv, h->argc, s);
        if (!nomem) h->argc++;
    } else if (KEY("env")) {
        char *s = unescape(b, val);
        nomem = !s || push(&b->env, &b->cenv, h->nenv, s);
        if (!nomem) h->nenv++;
    }
    h->argv = b->argv;
    h->env = b->env;
    if (bad) return text_fail(msg, cap, lno, "bad %.*s '%s' in the header", (int)klen, key, val);
    if (nomem) return text_fail(msg, cap, lno, "out of memory");
    return 0;
#undef KEY
}

int text_fail(char *msg, size_t cap, unsigned long line, const char *fmt, ...) {
    int n = snprintf(msg, cap, "line %lu: ", line);
    if (n < 0 || (size_t)n >= cap) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

tr_writer_t *text_open_out(const char *out, const tr_header_t *h, tr_error_t *err) {
    if (strcmp(out, "-") == 0) return tr_writer_open_fd(1, 0, h, NULL, err);
    return tr_writer_open(out, h, NULL, err);
}

int text_write_fail(char *msg, size_t cap, unsigned long line, const char *out, const tr_writer_t *w) {
    const tr_error_t *e = tr_writer_error(w);
    if (e->code == TR_E_IO) {
        snprintf(msg, cap, "%s: %s", out, e->msg);
        return -1;
    }
    return text_fail(msg, cap, line, "%s", e->msg);
}

/* Parses one unsigned number: 0x-prefixed hex or decimal. */
static int parse_u64(const char *s, uint64_t *v) {
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (!xdigit(s[2])) return -1; /* strtoull would take "0x-10" */
        *v = strtoull(s + 2, &end, 16);
    } else {
        *v = strtoull(s, &end, 10);
    }
    return (*end || errno) ? -1 : 0;
}

/* A C int (mallopt's, malloc_trim's result, fork's pid: the trace holds 32
 * bits of them, so a wider value would come back as another). */
static int parse_int(const char *s, int64_t *v) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return (*end || errno || *v < INT32_MIN || *v > INT32_MAX) ? -1 : 0;
}

/* The fields a line must have after OP, before "->", and whether "-> R" follows.
 * realloc and reallocarray have one more, drelease, last (dumps before
 * 2026-11-26 left it out: a line without it is read as drelease 0). */
static void op_shape(int op, int *nargs, int *has_ret) {
    *has_ret = 1;
    switch (op) {
    case TR_OP_MALLOC: case TR_OP_VALLOC: case TR_OP_PVALLOC: case TR_OP_MALLOC_TRIM: *nargs = 1; break;
    case TR_OP_CALLOC: case TR_OP_MEMALIGN: case TR_OP_POSIX_MEMALIGN: case TR_OP_ALIGNED_ALLOC:
    case TR_OP_MALLOPT: *nargs = 2; break;
    case TR_OP_REALLOC: *nargs = 3; break;
    case TR_OP_REALLOCARRAY: *nargs = 4; break;
    case TR_OP_FREE: case TR_OP_THREAD_START: case TR_OP_EXEC: *nargs = 1; *has_ret = 0; break;
    case TR_OP_FORK: *nargs = 0; break;
    default: *nargs = 0; *has_ret = 0; break;
    }
}

/* Parses an event line. Returns 0, or -1 with msg filled. */
static int parse_event(char *line, unsigned long lno, tr_event_t *ev, char *msg, size_t cap) {
    char *tok[12];
    int nt = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (nt == 12) return text_fail(msg, cap, lno, "too many fields");
        tok[nt++] = t;
    }
    if (nt < 4) return text_fail(msg, cap, lno, "expected 'SEQ TID T_NS OP ARGS [-> RESULT]'");
    memset(ev, 0, sizeof *ev);
    uint64_t v;
    if (parse_u64(tok[0], &ev->seq) || ev->seq == 0) return text_fail(msg, cap, lno, "bad SEQ '%s'", tok[0]);
    if (parse_u64(tok[1], &v) || v > UINT32_MAX) return text_fail(msg, cap, lno, "bad TID '%s'", tok[1]);
    ev->tid = (uint32_t)v;
    if (parse_u64(tok[2], &ev->t_ns)) return text_fail(msg, cap, lno, "bad T_NS '%s'", tok[2]);
    int const op = tr_op_from_name(tok[3]);
    if (op < 0) return text_fail(msg, cap, lno, "unknown operation '%s'", tok[3]);
    ev->op = (uint8_t)op;
    ev->release_seq = ev->seq;
    int nargs, has_ret;
    op_shape(op, &nargs, &has_ret);
    int const reallocs = op == TR_OP_REALLOC || op == TR_OP_REALLOCARRAY;
    int const old_form = reallocs && nt == 4 + nargs + 1 && strcmp(tok[4 + nargs - 1], "->") == 0;
    if (old_form) nargs--; /* no drelease: an older dump */
    int const want = 4 + nargs + (has_ret ? 2 : 0);
    if (nt != want || (has_ret && strcmp(tok[4 + nargs], "->") != 0)) {
        if (reallocs)
            return text_fail(msg, cap, lno, "%s takes %d arguments (the last drelease, which older dumps "
                             "leave out) and '-> RESULT'", tok[3], nargs);
        return text_fail(msg, cap, lno, "%s takes %d argument%s%s", tok[3], nargs, nargs == 1 ? "" : "s",
                    has_ret ? " and '-> RESULT'" : "");
    }
    char **arg = tok + 4;
    const char *ret = has_ret ? tok[4 + nargs + 1] : NULL;
    int bad = 0;
    int64_t s1 = 0, s2 = 0, s3 = 0;
    switch (op) {
    case TR_OP_MALLOPT:
        bad = parse_int(arg[0], &s1) || parse_int(arg[1], &s2) || parse_int(ret, &s3);
        ev->a = (uint64_t)s1; ev->b = (uint64_t)s2; ev->ret = (uint64_t)s3;
        break;
    case TR_OP_MALLOC_TRIM:
        bad = parse_u64(arg[0], &ev->a) || parse_int(ret, &s3);
        ev->ret = (uint64_t)s3;
        break;
    case TR_OP_FORK:
        bad = parse_int(ret, &s3);
        ev->ret = (uint64_t)s3;
        break;
    case TR_OP_EXEC:
        ev->str = unescape_raw(arg[0]); /* freed by the caller */
        bad = !ev->str;
        break;
    default: {
        uint64_t drel = 0;
        uint64_t *slot[4] = { &ev->a, &ev->b, &ev->c, NULL };
        if (reallocs && !old_form) slot[nargs - 1] = &drel;
        for (int i = 0; i < nargs && !bad; i++) bad = parse_u64(arg[i], slot[i]);
        if (!bad && ret) bad = parse_u64(ret, &ev->ret);
        if (!bad && drel >= ev->seq)
            return text_fail(msg, cap, lno, "%s's drelease %" PRIu64 " puts its release seq before 1", tok[3], drel);
        ev->release_seq = ev->seq - drel;
    }
    }
    if (bad) return text_fail(msg, cap, lno, "bad argument to %s", tok[3]);
    return 0;
}

int text_import(text_src_t *src, const char *out, char *msg, size_t cap) {
    hdr_build_t b;
    memset(&b, 0, sizeof b);
    tr_writer_t *w = NULL;
    tr_error_t err;
    uint64_t last_seq = 0, n = 0, t_end = 0;
    int rc = 0, k;
    while ((k = text_next_line(src)) > 0) {
        char *line = src->buf;
        while (*line == ' ' || *line == '\t') line++;
        if (!*line) continue;
        if (text_cut(src) && *line >= '0' && *line <= '9') { rc = text_cut_msg(msg, cap, src->line); break; }
        if (*line == '#') {
            if (!w && header_line(&b, line, src->line, msg, cap)) { hdr_free(&b); return -1; }
            continue;
        }
        if (!w) {
            if (!b.h.tool) b.h.tool = "malloc-trace import";
            w = text_open_out(out, &b.h, &err);
            if (!w) { snprintf(msg, cap, "%s: %s", out, err.msg); hdr_free(&b); return -1; }
        }
        tr_event_t ev;
        if (parse_event(line, src->line, &ev, msg, cap)) { rc = -1; break; }
        if (ev.seq <= last_seq) {
            free((char *)ev.str);
            rc = text_fail(msg, cap, src->line, "SEQ %" PRIu64 " does not follow %" PRIu64, ev.seq, last_seq);
            break;
        }
        last_seq = ev.seq;
        t_end = ev.t_ns;
        int const wrc = tr_writer_event(w, &ev);
        free((char *)ev.str);
        if (wrc) {
            rc = text_write_fail(msg, cap, src->line, out, w);
            break;
        }
        /* Lines are in global order: nothing smaller follows. */
        if (++n % 4096 == 0) tr_writer_watermark(w, last_seq + 1);
    }
    if (k < 0) rc = text_fail(msg, cap, src->line, "%s", src->bad);
    if (!w) { /* no events: still a valid, empty trace */
        if (!b.h.tool) b.h.tool = "malloc-trace import";
        w = text_open_out(out, &b.h, &err);
        if (!w) { snprintf(msg, cap, "%s: %s", out, err.msg); hdr_free(&b); return -1; }
    }
    tr_writer_watermark(w, last_seq + 1);
    tr_end_t const end = { TR_END_CLOSED, 0, t_end, n, 0 };
    if (tr_writer_close(w, rc ? NULL : &end, &err) && rc >= 0) {
        snprintf(msg, cap, "%s: %s", out, err.msg);
        rc = -1;
    }
    hdr_free(&b);
    return rc;
}
