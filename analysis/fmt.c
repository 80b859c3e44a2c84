/* fmt.c - numbers for people: bytes in KiB/MiB, durations, counts, HTML. */
#include <inttypes.h>
#include <stdio.h>

#include "report.h"

char *rp_fmt_bytes(char *buf, size_t cap, double b) {
    if (b < 0) { buf[0] = '-'; rp_fmt_bytes(buf + 1, cap - 1, -b); return buf; }
    if (b < 10240) snprintf(buf, cap, "%.0f B", b);
    else if (b < 1048576.0) snprintf(buf, cap, "%.1f KiB", b / 1024);
    else if (b < 1073741824.0) snprintf(buf, cap, "%.1f MiB", b / 1048576.0);
    else snprintf(buf, cap, "%.2f GiB", b / 1073741824.0);
    return buf;
}

char *rp_fmt_ns(char *buf, size_t cap, double ns) {
    if (ns < 1e3) snprintf(buf, cap, "%.0f ns", ns);
    else if (ns < 1e6) snprintf(buf, cap, "%.1f us", ns / 1e3);
    else if (ns < 1e9) snprintf(buf, cap, "%.1f ms", ns / 1e6);
    else snprintf(buf, cap, "%.2f s", ns / 1e9);
    return buf;
}

char *rp_fmt_count(char *buf, size_t cap, uint64_t n) {
    char tmp[32];
    int const len = snprintf(tmp, sizeof tmp, "%" PRIu64, n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

void rp_byte_unit(double max, double *div, const char **name) {
    if (max >= 1073741824.0) { *div = 1073741824.0; *name = "GiB"; }
    else if (max >= 1048576.0) { *div = 1048576.0; *name = "MiB"; }
    else if (max >= 10.0 * 1024) { *div = 1024; *name = "KiB"; }
    else { *div = 1; *name = "bytes"; }
}

void rp_time_unit(double max_ns, double *div, const char **name) {
    if (max_ns >= 10e9) { *div = 1e9; *name = "s"; }
    else if (max_ns >= 10e6) { *div = 1e6; *name = "ms"; }
    else if (max_ns >= 10e3) { *div = 1e3; *name = "us"; }
    else { *div = 1; *name = "ns"; }
}

void rp_html_esc(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void short_pow2(char *buf, size_t cap, int k, int is_time) {
    /* 2^k as "512", "4K", "1M" (bytes) or "512ns", "4us", "1ms" (time, approximate) */
    uint64_t const v = 1ull << k;
    if (is_time) {
        double const d = (double)v;
        if (d < 1e3) snprintf(buf, cap, "%.3gns", d);
        else if (d < 1e6) snprintf(buf, cap, "%.3gus", d / 1e3);
        else if (d < 1e9) snprintf(buf, cap, "%.3gms", d / 1e6);
        else snprintf(buf, cap, "%.3gs", d / 1e9);
    } else if (k < 10) snprintf(buf, cap, "%" PRIu64, v);
    else if (k < 20) snprintf(buf, cap, "%" PRIu64 "K", v >> 10);
    else if (k < 30) snprintf(buf, cap, "%" PRIu64 "M", v >> 20);
    else snprintf(buf, cap, "%" PRIu64 "G", v >> 30);
}

char *rp_fmt_res(char *buf, size_t cap, uint64_t res) {
    if (res && res % 1000000000u == 0) snprintf(buf, cap, "%" PRIu64 "s", res / 1000000000u);
    else if (res && res % 1000000u == 0) snprintf(buf, cap, "%" PRIu64 "ms", res / 1000000u);
    else if (res && res % 1000u == 0) snprintf(buf, cap, "%" PRIu64 "us", res / 1000u);
    else snprintf(buf, cap, "%" PRIu64 "ns", res);
    return buf;
}

void rp_life_label(char *buf, size_t cap, int k, uint64_t res) {
    char r[24], hi[16];
    if (k == 0 && res > 1) {
        snprintf(buf, cap, "<%s", rp_fmt_res(r, sizeof r, res));
        return;
    }
    if (res > 1 && k >= 1 && k < 64 && (1ull << (k - 1)) < res) { /* it starts at res */
        short_pow2(hi, sizeof hi, k, 1);
        snprintf(buf, cap, "%s-%s", rp_fmt_res(r, sizeof r, res), hi);
        return;
    }
    rp_hist_label(buf, cap, k, 1);
}

int rp_life_void(int k, uint64_t res) {
    /* bucket k >= 1 holds [2^(k-1), 2^k - 1] */
    return k >= 1 && k < 64 && res > 1 && (1ull << k) - 1 < res;
}

void rp_hist_label(char *buf, size_t cap, int k, int is_time) {
    if (k == 0) { snprintf(buf, cap, "0"); return; }
    char lo[16], hi[16];
    short_pow2(lo, sizeof lo, k - 1, is_time);
    if (k >= 64) { snprintf(buf, cap, ">=%s", lo); return; }
    short_pow2(hi, sizeof hi, k, is_time);
    snprintf(buf, cap, "%s-%s", lo, hi);
}
