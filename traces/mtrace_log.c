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

/* A "%p" (0x... or "(nil)") or "%#lx" value. */
static int hex(const char *s, uint64_t *v) {
    if (strcmp(s, "(nil)") == 0 || strcmp(s, "0") == 0) { *v = 0; return 0; }
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2]) return -1;
    char *end;
    *v = strtoull(s + 2, &end, 16);
    return *end ? -1 : 0;
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
    int rc = 0, in_realloc = 0;
    tr_event_t ev;
    memset(&ev, 0, sizeof ev);
    while (rc == 0 && text_next_line(src)) {
        char *line = src->buf;
        if (!*line || line[0] == '=') continue;
        if (line[0] == '@') { /* skip "@ where " up to the operation */
            char *sp = strstr(line, "] ");
            if (!sp) { rc = text_fail(msg, cap, src->line, "'@' without '[caller] '"); break; }
            line = sp + 2;
        }
        char kind;
        char a[64], b[64];
        a[0] = b[0] = 0;
        int const n = sscanf(line, "%c %63s %63s", &kind, a, b);
        uint64_t p = 0, size = 0;
        if (n < 2 || hex(a, &p) || (n == 3 && hex(b, &size))) {
            rc = text_fail(msg, cap, src->line, "not an mtrace line: '%s'", src->buf);
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
            if (n != 3) { rc = text_fail(msg, cap, src->line, "'+' needs a pointer and a size"); break; }
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
            if (!in_realloc || n != 3) { rc = text_fail(msg, cap, src->line, "'>' without '<' or size"); break; }
            in_realloc = 0;
            ev.b = size; ev.ret = p;
            break;
        case '!':
            if (n != 3) { rc = text_fail(msg, cap, src->line, "'!' needs a pointer and a size"); break; }
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
    if (rc == 0 && in_realloc) rc = text_fail(msg, cap, src->line, "log ends after '<'");
    tr_writer_watermark(w, seq + 1);
    tr_end_t const end = { TR_END_CLOSED, 0, 0, seq, 0 };
    if (tr_writer_close(w, rc ? NULL : &end, &err) && rc == 0) {
        snprintf(msg, cap, "%s: %s", out, err.msg);
        rc = -1;
    }
    return rc;
}
