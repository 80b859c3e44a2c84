/* json.c - a small JSON reader (RFC 8259) for the replayer's and the
 * simulator's output: a tree of rj_t nodes, numbers as doubles, strings
 * UTF-8 with \uXXXX escapes decoded (surrogate pairs joined). Depth is
 * limited so that hostile input cannot exhaust the stack. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define RJ_MAX_DEPTH 200

typedef struct parser_s {
    const char *s, *p;
    char *err; size_t cap;
    int failed;
} parser_t;

static void fail(parser_t *ps, const char *what) {
    if (ps->failed) return;
    ps->failed = 1;
    snprintf(ps->err, ps->cap, "offset %zu: %s", (size_t)(ps->p - ps->s), what);
}

static void ws(parser_t *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char const c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

static size_t utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f)); return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f)); return 4;
}

/* At the opening quote. Returns a malloc'd string. */
static char *string(parser_t *ps) {
    const char *p = ps->p + 1;
    size_t n = 0;
    while (p[n] && p[n] != '"') n += p[n] == '\\' && p[n + 1] ? 2 : 1;
    if (p[n] != '"') { fail(ps, "unterminated string"); return NULL; }
    char *out = malloc(n + 1), *o = out; /* escapes never lengthen the text */
    if (!out) { fail(ps, "out of memory"); return NULL; }
    ps->p = p;
    while (*ps->p != '"') {
        unsigned char const c = (unsigned char)*ps->p;
        if (c < 0x20) { fail(ps, "control character in string"); free(out); return NULL; }
        if (c != '\\') { *o++ = (char)c; ps->p++; continue; }
        char const e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(ps->p, &cp) < 0) { fail(ps, "bad \\u escape"); free(out); return NULL; }
            ps->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && ps->p[0] == '\\' && ps->p[1] == 'u' &&
                hex4(ps->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                ps->p += 6;
            }
            if (cp == 0) cp = 0xfffd; /* keep strings NUL-free */
            o += utf8(o, cp);
            break;
        }
        default: ps->p -= 2; fail(ps, "bad escape in string"); free(out); return NULL;
        }
    }
    ps->p++;
    *o = 0;
    return out;
}

static rj_t *value(parser_t *ps, int depth);

static rj_t *node(parser_t *ps, rj_type_t t) {
    rj_t *v = calloc(1, sizeof *v);
    if (!v) fail(ps, "out of memory");
    else v->type = t;
    return v;
}

static rj_t *container(parser_t *ps, int depth, int is_obj) {
    rj_t *v = node(ps, is_obj ? RJ_OBJ : RJ_ARR);
    if (!v) return NULL;
    char const close = is_obj ? '}' : ']';
    rj_t **tail = &v->child;
    ps->p++;
    ws(ps);
    if (*ps->p == close) { ps->p++; return v; }
    for (;;) {
        char *name = NULL;
        ws(ps);
        if (is_obj) {
            if (*ps->p != '"') { fail(ps, "expected a member name"); break; }
            if (!(name = string(ps))) break;
            ws(ps);
            if (*ps->p != ':') { fail(ps, "expected ':'"); free(name); break; }
            ps->p++;
        }
        rj_t *c = value(ps, depth + 1);
        if (!c) { free(name); break; }
        c->name = name;
        *tail = c;
        tail = &c->next;
        v->len++;
        ws(ps);
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == close) { ps->p++; return v; }
        fail(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    rj_free(v);
    return NULL;
}

static rj_t *value(parser_t *ps, int depth) {
    if (depth > RJ_MAX_DEPTH) { fail(ps, "nested too deeply"); return NULL; }
    ws(ps);
    char const c = *ps->p;
    if (c == '{' || c == '[') return container(ps, depth, c == '{');
    if (c == '"') {
        char *s = string(ps);
        if (!s) return NULL;
        rj_t *v = node(ps, RJ_STR);
        if (!v) { free(s); return NULL; }
        v->str = s;
        return v;
    }
    static const struct { const char *word; rj_type_t t; double n; } words[] = {
        { "true", RJ_BOOL, 1 }, { "false", RJ_BOOL, 0 }, { "null", RJ_NULL, 0 },
    };
    for (size_t i = 0; i < 3; i++) {
        size_t const n = strlen(words[i].word);
        if (strncmp(ps->p, words[i].word, n) == 0) {
            ps->p += n;
            rj_t *v = node(ps, words[i].t);
            if (v) v->num = words[i].n;
            return v;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char *end;
        errno = 0;
        double const d = strtod(ps->p, &end);
        if (end == ps->p) { fail(ps, "bad number"); return NULL; }
        ps->p = end;
        rj_t *v = node(ps, RJ_NUM);
        if (v) v->num = d;
        return v;
    }
    fail(ps, c ? "unexpected character" : "unexpected end of input");
    return NULL;
}

rj_t *rj_parse(const char *text, char *errbuf, size_t cap) {
    parser_t ps = { text, text, errbuf, cap, 0 };
    rj_t *v = value(&ps, 0);
    if (!v) return NULL;
    ws(&ps);
    if (*ps.p) {
        fail(&ps, "trailing characters after the value");
        rj_free(v);
        return NULL;
    }
    return v;
}

rj_t *rj_parse_file(const char *path, char *errbuf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(errbuf, cap, "%s: %s", path, strerror(errno)); return NULL; }
    size_t len = 0, bcap = 1 << 16;
    char *buf = malloc(bcap);
    for (;;) {
        if (!buf) { fclose(f); snprintf(errbuf, cap, "%s: out of memory", path); return NULL; }
        len += fread(buf + len, 1, bcap - 1 - len, f);
        if (len < bcap - 1) break;
        char *nb = realloc(buf, bcap * 2);
        if (!nb) free(buf);
        buf = nb;
        bcap *= 2;
    }
    int const bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); snprintf(errbuf, cap, "%s: read error", path); return NULL; }
    buf[len] = 0;
    if (memchr(buf, 0, len)) { free(buf); snprintf(errbuf, cap, "%s: NUL byte in JSON", path); return NULL; }
    char e[200];
    rj_t *v = rj_parse(buf, e, sizeof e);
    free(buf);
    if (!v) snprintf(errbuf, cap, "%s: %s", path, e);
    return v;
}

void rj_free(rj_t *v) {
    while (v) {
        rj_t *next = v->next;
        rj_free(v->child);
        free(v->str);
        free(v->name);
        free(v);
        v = next;
    }
}

const rj_t *rj_get(const rj_t *obj, const char *key) {
    if (!obj || obj->type != RJ_OBJ) return NULL;
    for (const rj_t *c = obj->child; c; c = c->next)
        if (c->name && strcmp(c->name, key) == 0) return c;
    return NULL;
}

const rj_t *rj_path(const rj_t *v, const char *path) {
    char key[128];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        v = rj_get(v, key);
        path += n + (path[n] == '.');
    }
    return v;
}

double rj_num(const rj_t *v, double dflt) {
    return v && (v->type == RJ_NUM || v->type == RJ_BOOL) ? v->num : dflt;
}

const char *rj_str(const rj_t *v, const char *dflt) {
    return v && v->type == RJ_STR ? v->str : dflt;
}
