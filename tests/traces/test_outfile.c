/* test_outfile.c - tr_out_open/commit/abort: an output appears whole or not
 * at all; devices, FIFOs and "-" are written in place, never renamed over.
 * usage: test_outfile DIR (a scratch folder, emptied of our names first) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "trace.h"


static char dir[2048];

static const char *at(const char *name) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* The file's contents ("" when it cannot be read: use exists()). */
static const char *slurp(const char *path) {
    static char buf[8192];
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return buf;
    size_t const n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) { perror(path); exit(1); }
}

/* Files in dir whose name holds ".tmp." */
static int temporaries(void) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '\\.tmp\\.'", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (!p || fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

static void new_file(void) {
    const char *const path = at("new.txt");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    tr_out_t o;
    mode_t const old = umask(027);
    CHECK(tr_out_open(&o, path) == 0, "open: %s", strerror(errno));
    umask(old);
    CHECK(o.f && o.f != stdout, "a file");
    fputs("whole\n", o.f);
    CHECK(exists(tmp) && !exists(path), "written beside the target until the commit");
    struct stat st;
    CHECK(stat(tmp, &st) == 0 && (st.st_mode & 0777) == 0640, "mode %o, want 0666 & ~umask", st.st_mode & 0777);
    CHECK(tr_out_commit(&o) == 0, "commit: %s", strerror(errno));
    CHECK(!strcmp(slurp(path), "whole\n") && !exists(tmp) && o.f == NULL, "committed");
}

static void abort_keeps_old(void) {
    const char *const path = at("old.txt");
    put(path, "old\n");
    tr_out_t o;
    CHECK(tr_out_open(&o, path) == 0, "open: %s", strerror(errno));
    fputs("partial", o.f);
    fflush(o.f);
    CHECK(!strcmp(slurp(path), "old\n"), "the old file untouched while writing");
    errno = 1234;
    tr_out_abort(&o);
    CHECK(errno == 1234, "abort keeps errno");
    CHECK(!strcmp(slurp(path), "old\n") && temporaries() == 0, "abort: old file kept, temporary removed");
    tr_out_abort(&o); /* a second call does nothing */
    /* a good commit replaces it */
    CHECK(tr_out_open(&o, path) == 0, "open: %s", strerror(errno));
    fputs("new\n", o.f);
    CHECK(tr_out_commit(&o) == 0 && !strcmp(slurp(path), "new\n"), "replaced");
}

/* A write that fails part-way (file size limit): the commit fails with the
 * write's errno, the old file stays, the temporary file goes. */
static void failed_write(void) {
    const char *const path = at("big.txt");
    put(path, "previous\n");
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, SIG_IGN);
    lim = saved;
    lim.rlim_cur = 1000;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit: %s", strerror(errno));
    tr_out_t o;
    CHECK(tr_out_open(&o, path) == 0, "open: %s", strerror(errno));
    for (int i = 0; i < 1000; i++) fprintf(o.f, "line %d of a long output\n", i);
    errno = 0;
    int const rc = tr_out_commit(&o);
    int const e = errno;
    setrlimit(RLIMIT_FSIZE, &saved);
    CHECK(rc == TR_E_IO && e == EFBIG, "commit: rc %d, errno %s (want EFBIG)", rc, strerror(e));
    CHECK(!strcmp(slurp(path), "previous\n"), "the previous file was changed");
    CHECK(temporaries() == 0, "temporary file left");
    unlink(path);
    /* and with no previous file, none appears */
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit: %s", strerror(errno));
    CHECK(tr_out_open(&o, path) == 0, "open: %s", strerror(errno));
    for (int i = 0; i < 1000; i++) fprintf(o.f, "line %d of a long output\n", i);
    CHECK(tr_out_commit(&o) == TR_E_IO, "commit after a failed write");
    setrlimit(RLIMIT_FSIZE, &saved);
    CHECK(!exists(path) && temporaries() == 0, "a file appeared");
    /* stdio drops what a failed write could not write: when nothing is left
     * for the final flush, the stream's error flag alone says nothing of why
     * (it gave EIO for EFBIG with 4 KiB buffers, on a CI machine) */
    for (size_t buf = 512; buf <= 8192; buf *= 2) {
        CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit: %s", strerror(errno));
        CHECK(tr_out_open(&o, path) == 0, "open: %s", strerror(errno));
        setvbuf(o.f, NULL, _IOFBF, buf);
        char line[700];
        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = 0;
        for (size_t i = 0; i < 3 * buf / sizeof line + 2; i++) fprintf(o.f, "%s", line);
        errno = 0;
        int const r = tr_out_commit(&o), err = errno;
        setrlimit(RLIMIT_FSIZE, &saved);
        CHECK(r == TR_E_IO && err == EFBIG, "%zu-byte buffer: commit rc %d, errno %s (want EFBIG)", buf, r,
              strerror(err));
        CHECK(!exists(path) && temporaries() == 0, "%zu-byte buffer: a file appeared", buf);
    }
}

/* In place: the null and full devices, a link to one, a FIFO, "-"; nothing
 * renamed over them. As root, a broken tr_out_open would rename a file over
 * /dev/null itself (it did once, in a check that this test can fail): root
 * gets device nodes of its own in the scratch folder. */
static void in_place(void) {
    const char *null = "/dev/null", *full = "/dev/full";
    if (geteuid() == 0) {
        null = at("null");
        full = at("full");
        if (mknod(null, S_IFCHR | 0666, makedev(1, 3)) != 0 || mknod(full, S_IFCHR | 0666, makedev(1, 7)) != 0) {
            printf("skipped the device cases: mknod: %s\n", strerror(errno));
            null = full = NULL;
        }
    }
    tr_out_t o;
    struct stat st;
    if (null) {
        CHECK(tr_out_open(&o, null) == 0 && o.tmp == NULL, "%s in place", null);
        if (o.f) fputs("x", o.f);
        CHECK(o.f && tr_out_commit(&o) == 0, "commit %s", null);
        CHECK(stat(null, &st) == 0 && S_ISCHR(st.st_mode), "%s is still a device", null);
        const char *const link = at("null-link");
        CHECK(symlink(null, link) == 0, "symlink: %s", strerror(errno));
        CHECK(tr_out_open(&o, link) == 0 && o.tmp == NULL, "a link to %s: in place", null);
        if (o.f) fputs("x", o.f);
        CHECK(o.f && tr_out_commit(&o) == 0, "commit a link to %s", null);
        CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link to %s stays a link", null);
        unlink(link);
    }
    if (full && access(full, W_OK) == 0) {
        CHECK(tr_out_open(&o, full) == 0 && o.tmp == NULL, "%s in place", full);
        if (o.f) fputs("x", o.f);
        errno = 0;
        CHECK(o.f && tr_out_commit(&o) == TR_E_IO && errno == ENOSPC, "%s: %s", full, strerror(errno));
        CHECK(stat(full, &st) == 0 && S_ISCHR(st.st_mode), "%s is still a device", full);
    }
    const char *const fifo = at("fifo");
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    int const rd = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(rd >= 0 && tr_out_open(&o, fifo) == 0 && o.tmp == NULL, "FIFO in place");
    if (o.f) {
        fputs("through", o.f);
        CHECK(tr_out_commit(&o) == 0, "commit FIFO");
    }
    char buf[16] = { 0 };
    CHECK(read(rd, buf, sizeof buf - 1) == 7 && !strcmp(buf, "through"), "read back from the FIFO: '%s'", buf);
    close(rd);
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode) && temporaries() == 0, "the FIFO stays a FIFO");
    unlink(fifo);
    CHECK(tr_out_open(&o, "-") == 0 && o.f == stdout && o.tmp == NULL, "- is standard output");
    CHECK(tr_out_commit(&o) == 0 && fcntl(1, F_GETFD) != -1, "standard output stays open");
}

static void links_and_errors(void) {
    const char *const real = at("real.txt"), *const link = at("link.txt");
    put(real, "one\n");
    CHECK(symlink("real.txt", link) == 0, "symlink: %s", strerror(errno));
    tr_out_t o;
    CHECK(tr_out_open(&o, link) == 0, "open through a link: %s", strerror(errno));
    fputs("two\n", o.f);
    CHECK(tr_out_commit(&o) == 0, "commit through a link: %s", strerror(errno));
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode) && !strcmp(slurp(real), "two\n"),
          "the link stays, the file it names is replaced");
    /* a leftover of a killed run under the same pid is left alone */
    const char *const path = at("left.txt");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    put(tmp, "leftover\n");
    CHECK(tr_out_open(&o, path) == 0, "open beside a leftover: %s", strerror(errno));
    fputs("fresh\n", o.f);
    CHECK(tr_out_commit(&o) == 0 && !strcmp(slurp(path), "fresh\n") && !strcmp(slurp(tmp), "leftover\n"),
          "leftover kept, target written");
    unlink(tmp);
    /* errors: as fopen "w" reports them, nothing created */
    errno = 0;
    CHECK(tr_out_open(&o, at("nodir/x.txt")) == TR_E_IO && errno == ENOENT, "missing folder: %s", strerror(errno));
    errno = 0;
    CHECK(tr_out_open(&o, dir) == TR_E_IO && errno == EISDIR, "a folder: %s", strerror(errno));
    CHECK(temporaries() == 0, "temporary files left");
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: test_outfile DIR\n"); return 2; }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) return 1;
    new_file();
    abort_keeps_old();
    failed_write();
    in_place();
    links_and_errors();
    if (failures) { fprintf(stderr, "%d check(s) failed\n", failures); return 1; }
    printf("ok\n");
    return 0;
}
