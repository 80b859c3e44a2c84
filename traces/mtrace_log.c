/* mtrace_log.c - imports glibc's mtrace() log (MALLOC_TRACE=file, see
 * glibc's malloc/mtrace-impl.c for what it writes):
 *
 *   = Start
 *   @ prog:[0x1200] + 0x55d0c0a012a0 0x18     allocation (malloc, calloc as n*size,
 *                                             memalign & co., realloc(NULL, n))
 *   @ prog:[0x12a3] - 0x55d0c0a012a0          free, or realloc(p, 0)
 *   @ prog:[0x1228] < 0x55d0c0a012a0          realloc: the old pointer ...
 *   @ prog:[0x1228] > 0x55d0c0a01300 0x64     ... and the new one with its size
 *   @ prog:[0x12bc] ! 0x55d0c0a012a0 0x40     realloc that failed
 *   = End
 *
 * The log has no threads, times, calloc or alignment: every event gets tid 1
 * and t_ns 0, allocations become malloc. The "@ caller" part is optional. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

int mtrace_line(const char *line) {
    return strncmp(line, "= Start", 7) == 0 || strncmp(line, "= End", 5) == 0 ||
           (line[0] == '@' && line[1] == ' ') ||
           ((line[0] == '+' || line[0] == '-' || line[0] == '<' || line[0] == '>' || line[0] == '!') &&
            line[1] == ' ' && line[2] == '0');
}

/* A "%p" (0x... or "(nil)") or "%#lx" value: hex digits only, at most 64 bits. */
static int hex(const char *s, uint64_t *v) {
    if (strcmp(s, "(nil)") == 0 || strcmp(s, "0") == 0) { *v = 0; return 0; }
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2]) return -1;
    size_t const n = strspn(s + 2, "0123456789abcdefABCDEF");
    if (s[2 + n] || n > 16 + strspn(s + 2, "0") ) return -1;
    *v = strtoull(s + 2, NULL, 16);
    return 0;
}

/* The operation after "@ where ": glibc writes "@ FILE:(SYM+OFF)[ADDR] ", and
 * FILE is a path that may hold "] " itself; the operation holds no ']'. */
static char *skip_caller(char *line) {
    char *op = NULL;
    for (char *p = line; (p = strstr(p, "] ")) != NULL; p++) op = p + 2;
    return op;
}

/* Splits an operation line into at most 3 words; returns their count, or 4
 * for more. */
static int words(char *line, char *w[3]) {
    int n = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == 3) return 4;
        w[n++] = t;
    }
    return n;
}

int mtrace_import(text_src_t *src, const char *out, char *msg, size_t cap) {
    tr_header_t h;
    memset(&h, 0, sizeof h);
    h.tool = "malloc-trace import (glibc mtrace log)";
    h.exe = src->name;
    tr_error_t err;
    tr_writer_t *w = text_open_out(out, &h, &err);
    if (!w) { snprintf(msg, cap, "%s: %s", out, err.msg); return -1; }
    uint64_t seq = 0;
    int rc = 0, in_realloc = 0, k = 0;
    tr_event_t ev;
    memset(&ev, 0, sizeof ev);
    while (rc == 0 && (k = text_next_line(src)) > 0) {
        char *line = src->buf;
        if (!*line || line[0] == '=') continue;
        if (text_cut(src) && strchr("@+-<>!", line[0])) { rc = text_cut_msg(msg, cap, src->line); break; }
        if (line[0] == '@') { /* skip "@ where " up to the operation */
            line = skip_caller(line);
            if (!line) { rc = text_fail(msg, cap, src->line, "'@' without '[caller] '"); break; }
        }
        char op[128], *wd[3]; /* an operation is some 40 characters: longer is none */
        int const n = strlen(line) < sizeof op ? words(strcpy(op, line), wd) : 4;
        if (n == 0) continue; /* a blank line */
        uint64_t p = 0, size = 0;
        char const kind = n >= 2 && !wd[0][1] ? wd[0][0] : 0;
        int const want = kind == '-' || kind == '<' ? 2 : 3;
        if (!kind || n != want || hex(wd[1], &p) || (n == 3 && hex(wd[2], &size))) {
            if (kind && strchr("+-<>!", kind) && n >= 2 && n != want)
                rc = text_fail(msg, cap, src->line, "'%c' takes %s: '%.80s'", kind,
                               want == 2 ? "one pointer" : "a pointer and a size", src->buf);
            else
                rc = text_fail(msg, cap, src->line, "not an mtrace line: '%.80s'", src->buf);
            break;
        }
        if (in_realloc && kind != '>') {
            rc = text_fail(msg, cap, src->line, "'<' not followed by '>'");
            break;
        }
        ev.tid = 1;
        ev.stack = 0;
        switch (kind) {
        case '+':
            ev.op = TR_OP_MALLOC; ev.a = size; ev.ret = p;
            break;
        case '-':
            ev.op = TR_OP_FREE; ev.a = p; ev.ret = 0;
            break;
        case '<':
            ev.op = TR_OP_REALLOC; ev.a = p;
            in_realloc = 1;
            continue;
        case '>':
            if (!in_realloc) { rc = text_fail(msg, cap, src->line, "'>' without '<'"); break; }
            in_realloc = 0;
            ev.b = size; ev.ret = p;
            break;
        case '!':
            ev.op = TR_OP_REALLOC; ev.a = p; ev.b = size; ev.ret = 0;
            break;
        default:
            rc = text_fail(msg, cap, src->line, "unknown mtrace operation '%c'", kind);
            break;
        }
        if (rc) break;
        ev.seq = ev.release_seq = ++seq;
        if (tr_writer_event(w, &ev)) rc = text_write_fail(msg, cap, src->line, out, w);
        else if (seq % 4096 == 0) tr_writer_watermark(w, seq + 1);
    }
    if (rc == 0 && k < 0) rc = text_fail(msg, cap, src->line, "%s", src->bad);
    if (rc == 0 && in_realloc) rc = text_fail(msg, cap, src->line, "log ends after '<'");
    tr_writer_watermark(w, seq + 1);
    tr_end_t const end = { TR_END_CLOSED, 0, 0, seq, 0 };
    if (tr_writer_close(w, rc ? NULL : &end, &err) && rc >= 0) {
        snprintf(msg, cap, "%s: %s", out, err.msg);
        rc = -1;
    }
    return rc;
}
