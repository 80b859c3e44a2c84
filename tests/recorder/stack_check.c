/* stack_check - the recorded stacks of rt_stacks' tagged mallocs against the
 * stacks the program took itself with backtrace(3).
 *
 *   stack_check TRACE LOG DEPTH
 *
 * LOG lines: "tag leaf bt0 n bt1 ... bt(n-1)" (rt_stacks.c). The malloc of
 * 20000 + tag in TRACE must carry the stack [pc, bt1, bt2, ...] cut at
 * DEPTH frames, with pc inside leaf before bt0 (the return address of its
 * malloc call). The outermost frame may be missing in one of the two (the
 * unwinders differ on whether _start's frame ends the chain); every other
 * frame must be equal. Prints "ok N stacks" or the first difference. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define NTAG 10000

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: stack_check TRACE LOG DEPTH\n"); return 2; }
    uint32_t const depth = (uint32_t)atoi(argv[3]);
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(argv[1], &err);
    if (!r) { printf("FAIL: %s: cannot open the trace\n", argv[1]); return 1; }
    static uint32_t stack_of[NTAG];
    static int seen[NTAG];
    tr_event_t ev;
    int rc;
    while ((rc = tr_reader_next(r, &ev)) == 1) {
        if (ev.op != TR_OP_MALLOC || ev.a < 20000 || ev.a >= 20000 + NTAG) continue;
        uint64_t const tag = ev.a - 20000;
        if (seen[tag]++) { printf("FAIL: two mallocs of tag %" PRIu64 "\n", tag); return 1; }
        stack_of[tag] = ev.stack;
    }
    if (rc < 0) { printf("FAIL: %s: read error\n", argv[1]); return 1; }
    FILE *f = fopen(argv[2], "r");
    if (!f) { printf("FAIL: %s: cannot open\n", argv[2]); return 1; }
    char line[4096];
    int checked = 0;
    uint32_t deepest = 0;
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e;
        long const tag = strtol(s, &e, 10);
        uint64_t const leaf = strtoull(e, &e, 10), bt0 = strtoull(e, &e, 10);
        long const n = strtol(e, &e, 10);
        uint64_t bt[128];
        long nb = 0;
        for (long i = 1; i < n && nb < 128; i++) bt[nb++] = strtoull(e, &e, 10); /* bt[k] = frame k + 1 */
        if (tag < 0 || tag >= NTAG || !seen[tag]) { printf("FAIL: tag %ld: no malloc of %ld in the trace\n", tag, 20000 + tag); return 1; }
        const uint64_t *pcs;
        uint32_t const ns = tr_reader_stack(r, stack_of[tag], &pcs);
        if (ns == 0) { printf("FAIL: tag %ld: no stack recorded\n", tag); return 1; }
        if (!(pcs[0] > leaf && pcs[0] < bt0)) {
            printf("FAIL: tag %ld: frame 0 is 0x%" PRIx64 ", not in leaf (0x%" PRIx64 "..0x%" PRIx64 ")\n", tag, pcs[0],
                   leaf, bt0);
            return 1;
        }
        uint32_t const want = (uint32_t)(nb + 1) < depth ? (uint32_t)(nb + 1) : depth;
        if (ns != want && !(ns + 1 == want && want < depth) && !(ns == want + 1 && ns <= depth)) {
            printf("FAIL: tag %ld: %u frames recorded, backtrace(3) gives %u (depth %u)\n", tag, ns, want, depth);
            return 1;
        }
        uint32_t const common = ns < want ? ns : want;
        for (uint32_t k = 1; k < common; k++)
            if (pcs[k] != bt[k - 1]) {
                printf("FAIL: tag %ld: frame %u is 0x%" PRIx64 ", backtrace(3) says 0x%" PRIx64 "\n", tag, k, pcs[k],
                       bt[k - 1]);
                return 1;
            }
        if (ns > deepest) deepest = ns;
        checked++;
    }
    fclose(f);
    if (checked < 100) { printf("FAIL: only %d tagged stacks in the log\n", checked); return 1; }
    printf("ok %s: %d stacks equal to backtrace(3)'s, up to %u frames\n", argv[1], checked, deepest);
    tr_reader_close(r);
    return 0;
}
