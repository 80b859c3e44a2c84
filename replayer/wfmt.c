/* wfmt.c - formatting and /proc reading without malloc or stdio, for the
 * replay child (whose heap must hold only the trace's objects). */
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void rp_put_ch(rp_buf_t *b, char c) {
    if (b->len < b->cap) b->p[b->len++] = c;
}

void rp_put_str(rp_buf_t *b, const char *s) {
    while (*s) rp_put_ch(b, *s++);
}

void rp_put_u64(rp_buf_t *b, uint64_t v) {
    char tmp[24];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) rp_put_ch(b, tmp[--n]);
}

int rp_write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t const w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t read_file(const char *path, char *buf, size_t cap) {
    int const fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t const r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    return (ssize_t)len;
}

static uint64_t parse_u64(const char **s) {
    uint64_t v = 0;
    while (**s == ' ' || **s == '\t') (*s)++;
    while (**s >= '0' && **s <= '9') v = v * 10 + (uint64_t)(*(*s)++ - '0');
    return v;
}

uint64_t rp_proc_statm(int field) {
    char buf[256];
    if (read_file("/proc/self/statm", buf, sizeof buf) <= 0) return 0;
    const char *s = buf;
    uint64_t v = 0;
    for (int i = 0; i <= field; i++) v = parse_u64(&s);
    return v;
}

uint64_t rp_proc_status_kb(const char *key) {
    char buf[8192];
    if (read_file("/proc/self/status", buf, sizeof buf) <= 0) return 0;
    size_t const kl = strlen(key);
    for (const char *s = buf; *s;) {
        if (!strncmp(s, key, kl)) {
            s += kl;
            return parse_u64(&s);
        }
        const char *nl = strchr(s, '\n');
        if (!nl) break;
        s = nl + 1;
    }
    return 0;
}

uint64_t rp_statm_rss_fd(int fd) {
    char buf[128];
    ssize_t const n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = 0;
    const char *p = buf;
    parse_u64(&p);
    return parse_u64(&p);
}
