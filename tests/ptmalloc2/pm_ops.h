/* pm_ops.h - the operation script shared by the real-glibc driver and the
 * model runner of the ptmalloc2 differential test. Parsing allocates nothing
 * (the glibc driver must not call malloc before the script starts).
 *
 * One op per line:  m SLOT SIZE | c SLOT N SIZE | r SLOT SIZE | a SLOT ALIGN SIZE
 * | p SLOT ALIGN SIZE (posix_memalign) | v SLOT SIZE (valloc) | V SLOT SIZE (pvalloc)
 * | f SLOT | o PARAM VALUE (mallopt) | t PAD (malloc_trim) | T TID (switch
 * thread) | X TID (thread exits) | U TID (switch thread, as recorded by
 * pm_shim: no DTV emulation). '#' lines are comments.
 *
 * Output, one line per op: what the op returned, as "B off" (main-arena chunk,
 * offset from the initial break), "H off" (non-main heap chunk, offset in its
 * 64 MiB heap), "M size" (mmapped chunk: its size), "0" (NULL / nothing) or
 * "R n" (an int result); then a line "C arena ordblks smblks hblks hblkhd
 * fsmblks uordblks fordblks keepcost" after every K ops and at the end.
 */
#ifndef PM_OPS_H
#define PM_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PMT_MAX_SLOTS (1 << 20)

typedef struct pmt_op_s {
    char kind;
    uint32_t slot;
    int64_t a, b;
} pmt_op_t;

/* Parse text [s, e) into ops[0..max); returns the count or -1 on a bad line. */
static inline long pmt_parse(const char *s, const char *e, pmt_op_t *ops, long max)
{
    long n = 0;
    while (s < e) {
        while (s < e && (*s == '\n' || *s == ' '))
            s++;
        if (s >= e)
            break;
        if (*s == '#') {
            while (s < e && *s != '\n')
                s++;
            continue;
        }
        if (n >= max)
            return -1;
        pmt_op_t *op = &ops[n++];
        memset(op, 0, sizeof *op);
        op->kind = *s++;
        int64_t v[3] = {0, 0, 0};
        int nv = 0;
        while (s < e && *s != '\n') {
            while (s < e && *s == ' ')
                s++;
            if (s >= e || *s == '\n')
                break;
            int neg = 0;
            if (*s == '-') {
                neg = 1;
                s++;
            }
            uint64_t x = 0;
            if (*s < '0' || *s > '9')
                return -1;
            while (s < e && *s >= '0' && *s <= '9')
                x = x * 10 + (uint64_t)(*s++ - '0');
            if (nv < 3)
                v[nv++] = neg ? -(int64_t)x : (int64_t)x;
        }
        switch (op->kind) {
        case 'm': case 'r': case 'v': case 'V':
            op->slot = (uint32_t)v[0]; op->a = v[1]; break;
        case 'c': case 'a': case 'p':
            op->slot = (uint32_t)v[0]; op->a = v[1]; op->b = v[2]; break;
        case 'f':
            op->slot = (uint32_t)v[0]; break;
        case 'o': case 't': case 'T': case 'X': case 'U':
            op->a = v[0]; op->b = v[1]; break;
        default:
            return -1;
        }
        if (op->slot >= PMT_MAX_SLOTS)
            return -1;
    }
    return n;
}

/* Append decimal / string to a buffer (no stdio). */
static inline char *pmt_put_u(char *p, uint64_t x)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    while (n)
        *p++ = t[--n];
    return p;
}
static inline char *pmt_put_s(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

#endif
