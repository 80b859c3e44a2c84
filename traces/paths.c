/* paths.c - output paths: a guard for tools that write next to the trace
 * they read, and output files that appear whole or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"

int tr_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Where a new file for path goes: path itself, or the regular file a
 * symbolic link at path names (the link stays a link, as with fopen).
 * Returns a malloc'd path, or NULL with errno set; *direct = 1 when the
 * target must be written in place (a device, a FIFO, a dangling link). */
static char *replace_target(const char *path, int *direct) {
    struct stat st;
    *direct = 0;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) return NULL;
        return strdup(path); /* a new file */
    }
    if (S_ISLNK(st.st_mode)) {
        if (stat(path, &st) != 0) { *direct = 1; return NULL; }
        if (!S_ISREG(st.st_mode)) { *direct = 1; return NULL; }
        char *const real = realpath(path, NULL);
        if (!real) *direct = 1;
        return real;
    }
    if (!S_ISREG(st.st_mode)) { *direct = 1; return NULL; }
    return strdup(path);
}

/* The stream over an output file's descriptor keeps the first write's error:
 * stdio's own flag says only that one failed, and which errno it was is lost
 * when a later flush has nothing left to write (a 4 KiB buffer under a
 * file-size limit reported EIO for EFBIG). */
typedef struct { int fd, err; } sink_t;

static ssize_t sink_write(void *c, const char *buf, size_t n) {
    sink_t *const k = c;
    size_t done = 0;
    while (done < n) {
        ssize_t const w = write(k->fd, buf + done, n - done);
        if (w > 0) { done += (size_t)w; continue; }
        if (w < 0 && errno == EINTR) continue;
        if (!k->err) k->err = w < 0 ? errno : EIO;
        break;
    }
    return (ssize_t)done; /* short: stdio sets the stream's error flag */
}

static int sink_close(void *c) {
    sink_t *const k = c;
    int const rc = close(k->fd);
    if (rc != 0 && !k->err) k->err = errno;
    return rc;
}

static int sink_open(tr_out_t *o, int fd) {
    sink_t *const k = malloc(sizeof *k);
    if (!k) { errno = ENOMEM; return -1; }
    *k = (sink_t){ fd, 0 };
    cookie_io_functions_t const io = { .write = sink_write, .close = sink_close };
    o->f = fopencookie(k, "w", io);
    if (!o->f) { free(k); errno = ENOMEM; return -1; }
    o->fd = fd;
    o->sink = k;
    return 0;
}

int tr_out_open(tr_out_t *o, const char *path) {
    memset(o, 0, sizeof *o);
    o->path = path;
    o->fd = -1;
    if (!strcmp(path, "-")) {
        o->f = stdout;
        o->fd = STDOUT_FILENO;
        return 0;
    }
    int direct;
    char *const dest = replace_target(path, &direct);
    if (direct) {
        free(dest);
        int const fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0) return TR_E_IO;
        if (sink_open(o, fd) != 0) {
            int const e = errno;
            close(fd);
            errno = e;
            return TR_E_NOMEM;
        }
        return 0;
    }
    if (!dest) return errno == ENOMEM ? TR_E_NOMEM : TR_E_IO;
    /* an existing file we could not open for writing is refused, as fopen would */
    if (access(dest, F_OK) == 0 && access(dest, W_OK) != 0) {
        int const e = errno;
        free(dest);
        errno = e;
        return TR_E_IO;
    }
    size_t const cap = strlen(dest) + 48;
    char *const tmp = malloc(cap);
    if (!tmp) { free(dest); errno = ENOMEM; return TR_E_NOMEM; }
    int fd = -1;
    for (unsigned k = 0; fd < 0 && k < 100; k++) { /* a killed run's leftover may hold the first name */
        if (k) snprintf(tmp, cap, "%s.tmp.%ld.%u", dest, (long)getpid(), k);
        else snprintf(tmp, cap, "%s.tmp.%ld", dest, (long)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0 || sink_open(o, fd) != 0) {
        int const e = errno;
        if (fd >= 0) { close(fd); unlink(tmp); }
        free(tmp);
        free(dest);
        errno = e;
        return e == ENOMEM ? TR_E_NOMEM : TR_E_IO;
    }
    o->tmp = tmp;
    o->dest = dest;
    return 0;
}

static void out_forget(tr_out_t *o) {
    free(o->tmp);
    free(o->dest);
    free(o->sink);
    o->f = NULL;
    o->fd = -1;
    o->tmp = o->dest = NULL;
    o->sink = NULL;
}

int tr_out_commit(tr_out_t *o) {
    if (!o->f) { errno = EBADF; return TR_E_ARG; }
    errno = 0;
    int e = fflush(o->f) != 0 ? (errno ? errno : EIO) : 0;
    if (!e && ferror(o->f)) e = EIO;
    if (o->f != stdout && fclose(o->f) != 0 && !e) e = errno ? errno : EIO;
    sink_t const *const k = o->sink;
    if (e && k && k->err) e = k->err; /* the first failure, not a later symptom */
    if (!e && o->tmp && rename(o->tmp, o->dest) != 0) e = errno;
    if (e && o->tmp) unlink(o->tmp);
    out_forget(o);
    errno = e;
    return e ? TR_E_IO : 0;
}

void tr_out_abort(tr_out_t *o) {
    if (!o->f) return;
    int const e = errno;
    if (o->f != stdout) fclose(o->f);
    if (o->tmp) unlink(o->tmp);
    out_forget(o);
    errno = e;
}
