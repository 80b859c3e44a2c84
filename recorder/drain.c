/* drain.c - the writer thread: opens the trace, drains every ring into the
 * traces library's tr_writer at least every 100 ms, closes a zstd frame per
 * pass (so SIGKILL loses at most ~100 ms), keeps the module map current, and
 * writes END on the final flush.
 *
 * The thread blocks every signal and is marked internal: its allocations
 * (zstd's) go to mmap through tr_writer_opts_t's hooks, never to the
 * program's heap, and are never recorded.
 *
 * Write errors (disk full, ...): recording stops, the reason is printed once,
 * the file is cut back to the last complete frame and a last frame with END
 * (reason error, status errno) is appended, so the trace ends cleanly.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zstd.h>

#include "rec_internal.h"
#include "trace.h"

#ifndef MS_VERSION
#define MS_VERSION "0"
#endif

extern char **environ;
extern _Atomic int rec_writer_sleeping;

char rec_exec_path[4096];
_Atomic int rec_exit_status;

/* ---- internal memory: mmap, page granular ------------------------------- */
void *rec_mem_alloc(void *opaque, size_t n) {
    (void)opaque;
    size_t const total = (n + 64 + 4095) & ~(size_t)4095;
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    *(size_t *)p = total;
    return (char *)p + 64;
}
void rec_mem_free(void *opaque, void *p) {
    (void)opaque;
    if (!p) return;
    char *b = (char *)p - 64;
    munmap(b, *(size_t *)b);
}

void rec_diag(const char *msg) {
    size_t n = strlen(msg);
    while (n) {
        ssize_t k = write(2, msg, n);
        if (k <= 0) { if (k < 0 && errno == EINTR) continue; break; }
        msg += k; n -= (size_t)k;
    }
}

/* ---- the trace file and its fd ------------------------------------------ */
static tr_writer_t *w;
static int fd_tag = -1;   /* the number tr_writer writes to */
static _Atomic int fd_now = -1; /* the real fd (moved if the program dup2s over it) */
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static char path[PATH_MAX];
static uint64_t good_bytes, good_events, frames, events_fed;
static int dirty;
static pthread_t thread;
static _Atomic int final_req, final_taken;
static _Atomic uint32_t final_done;
static int final_reason, final_status;
static uint64_t dropped_recycled;
static uint8_t *stack_seen;    /* bitmap of ids written */
static int failed;
static uint64_t time_res = 1000; /* ns: times are rounded down to it */
static int zlevel = 3;

static dev_t trace_dev;    /* the trace file, to know it again */
static ino_t trace_ino;

/* 1 if fd is open on the file (dev, ino): a number the recorder keeps may
 * have been taken by the program (the trace's, the log's). */
static int same_file(int fd, dev_t dev, ino_t ino) {
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static int trace_file_is(int fd) { return same_file(fd, trace_dev, trace_ino); }

/* The trace's fd, opened again by its path and set at its end when the
 * program took its number (fd_now -1: rec_trace_fd_move found none free to
 * move it to). -1 while no number is free, or the path no longer leads to
 * the trace. Caller holds fd_lock. */
static int trace_fd_get(void) {
    int fd = atomic_load(&fd_now);
    if (fd >= 0 || fd_tag < 0 || !path[0]) return fd;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (!trace_file_is(fd) || lseek(fd, 0, SEEK_END) < 0) {
        close(fd);
        return -1;
    }
    fd = rec_fd_park(fd);
    atomic_store(&fd_now, fd);
    return fd;
}

/* tr_writer's write(2) goes here (-Wl,--wrap=write on this library). */
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n) {
    if (fd != fd_tag || fd < 0) return __real_write(fd, buf, n);
    pthread_mutex_lock(&fd_lock);
    int const now = trace_fd_get();
    ssize_t const k = now >= 0 ? __real_write(now, buf, n) : -1;
    int const e = now >= 0 ? errno : EMFILE; /* the program holds every number */
    pthread_mutex_unlock(&fd_lock);
    errno = e;
    return k;
}

/* Gives the trace's number up at the end (it is closed only if it is still
 * the trace: a number taken by the program stays the program's). */
static void trace_fd_drop(void) {
    pthread_mutex_lock(&fd_lock);
    int const fd = atomic_exchange(&fd_now, -1); /* first: close() protects the trace fd */
    if (trace_file_is(fd)) close(fd);
    fd_tag = -1;
    pthread_mutex_unlock(&fd_lock);
}

int rec_trace_fd(void) { return atomic_load(&fd_now); }
int rec_trace_fd_is(int fd) { return fd >= 0 && fd == atomic_load(&fd_now); }

/* The program is about to dup2 over our fd: move the trace elsewhere. With
 * no number free, the number is given up to the program (whose close() of
 * it must close its own file then), and the trace is opened again by its
 * path when a write is due (trace_fd_get). */
int rec_trace_fd_move(void) {
    pthread_mutex_lock(&fd_lock);
    int const old = atomic_load(&fd_now);
    int const nfd = rec_fd_dup_high(old);
    /* the old number is the program's now; the caller's dup2 replaces it */
    atomic_store(&fd_now, nfd);
    pthread_mutex_unlock(&fd_lock);
    return nfd >= 0 ? 0 : -1;
}

/* ---- output path -------------------------------------------------------- */
static size_t put_num(char *p, unsigned long v) {
    char tmp[24];
    size_t n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}

/* Expands %p (pid) and %% in pat. */
static void expand(char *out, size_t cap, const char *pat, pid_t pid) {
    size_t o = 0;
    for (const char *s = pat; *s && o + 24 < cap; s++) {
        if (s[0] == '%' && s[1] == 'p') { o += put_num(out + o, (unsigned long)pid); s++; }
        else if (s[0] == '%' && s[1] == '%') { out[o++] = '%'; s++; }
        else out[o++] = *s;
    }
    out[o] = 0;
}

/* Inserts ".tag" before the ".trace.zst" or ".zst" suffix of p (in place). */
static void insert_tag(char *p, size_t cap, const char *tag) {
    size_t const n = strlen(p), t = strlen(tag);
    size_t at = n;
    if (n >= 10 && strcmp(p + n - 10, ".trace.zst") == 0) at = n - 10;
    else if (n >= 4 && strcmp(p + n - 4, ".zst") == 0) at = n - 4;
    if (n + t + 2 >= cap) return;
    memmove(p + at + t + 1, p + at, n - at + 1);
    p[at] = '.';
    memcpy(p + at + 1, tag, t);
}

static const char *exe_name(void) {
    static char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = 0;
    return exe;
}

/* The settings from the environment, read once when the process starts:
 * the program may clear or change its environment (env -i, clearenv, perl's
 * %ENV = ()) before it forks or execs, and its children and its summary
 * line must still go where malloc-record expects them. A fork child keeps
 * its parent's copy; an exec'd image reads its own environment again. */
const char *const rec_env_settings[] = { "MALLOC_RECORD_OUT", "MALLOC_RECORD_LOG", "MALLOC_RECORD_FOLLOW",
                                         "MALLOC_RECORD_STACK_DEPTH", "MALLOC_RECORD_FREE_STACKS",
                                         "MALLOC_RECORD_TIME_RES", "MALLOC_RECORD_LEVEL",
                                         "MALLOC_RECORD_REPLACE", NULL };

static char env_out[PATH_MAX], env_log[PATH_MAX];
static char env_replace[PATH_MAX]; /* the one file the first trace may replace */
static int env_taken;
static long env_time_res, env_level;

static void env_copy(char *dst, size_t cap, const char *name) {
    const char *v = getenv(name);
    size_t const n = v ? strlen(v) : 0;
    if (n >= cap) { dst[0] = 0; return; }
    memcpy(dst, v ? v : "", n + 1);
}

static void env_snapshot(void) {
    if (env_taken) return;
    env_taken = 1;
    env_copy(env_out, sizeof env_out, "MALLOC_RECORD_OUT");
    env_copy(env_log, sizeof env_log, "MALLOC_RECORD_LOG");
    /* malloc-record's -o FILE: the program it started replaces an existing
     * FILE with its first trace, and only it (not a child, nor a later
     * image of the same pid): the variable goes now, unseen by them */
    env_copy(env_replace, sizeof env_replace, "MALLOC_RECORD_REPLACE");
    if (getenv("MALLOC_RECORD_REPLACE")) unsetenv("MALLOC_RECORD_REPLACE");
    const char *tr = getenv("MALLOC_RECORD_TIME_RES");
    env_time_res = tr ? atol(tr) : 0;
    const char *zl = getenv("MALLOC_RECORD_LEVEL");
    env_level = zl ? atol(zl) : 0;
    if (!rec_follow) /* --no-follow: none of ours is left for the children */
        for (const char *const *v = rec_env_settings; *v; v++)
            if (getenv(*v)) unsetenv(*v);
}

static int trace_created; /* the trace is a file open_trace created (not a device or fifo) */

/* Creates the trace file: never overwrites an existing regular file (an
 * exec'd image or a fork child with a pid-less pattern gets a tagged name). */
static int open_trace(void) {
    const char *pat = env_out;
    char dflt[PATH_MAX];
    pid_t const pid = getpid();
    if (!pat || !*pat) {
        const char *exe = exe_name(), *base = exe;
        for (const char *q = exe; *q; q++) if (*q == '/') base = q + 1;
        size_t const bl = strlen(*base ? base : "program");
        if (bl + 16 < sizeof dflt) {
            memcpy(dflt, *base ? base : "program", bl);
            memcpy(dflt + bl, ".%p.trace.zst", 14);
        } else {
            memcpy(dflt, "program.%p.trace.zst", 21);
        }
        pat = dflt;
    }
    int const has_pid = strstr(pat, "%p") != NULL;
    char base_path[PATH_MAX];
    expand(base_path, sizeof base_path, pat, pid);
    for (int attempt = 0; attempt < 1000; attempt++) {
        memcpy(path, base_path, strlen(base_path) + 1);
        if (attempt > 0) {
            char tag[48];
            size_t n = 0;
            if (!has_pid) n += put_num(tag, (unsigned long)pid);
            if (attempt > 1 || has_pid) {
                if (n) tag[n++] = '.';
                n += put_num(tag + n, (unsigned long)(has_pid ? attempt : attempt - 1));
            }
            tag[n] = 0;
            insert_tag(path, sizeof path, tag);
        }
        if (attempt == 0 && env_replace[0] && !strcmp(path, env_replace)) {
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) unlink(path);
        }
        env_replace[0] = 0;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        trace_created = fd >= 0;
        if (fd >= 0) return fd;
        if (errno != EEXIST) return -1;
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return open(path, O_WRONLY | O_CLOEXEC); /* a device or a fifo */
    }
    errno = EEXIST;
    return -1;
}

/* ---- header -------------------------------------------------------------- */
static int build_header(tr_header_t *h, char **argv_mem, size_t *argv_cap) {
    memset(h, 0, sizeof *h);
    h->pid = (uint32_t)getpid();
    h->ppid = (uint32_t)getppid();
    h->start_real_ns = rec_start_real;
    h->start_mono_ns = rec_start_mono;
    h->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
    h->ncpu = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
    h->exe = exe_name();
    h->glibc_version = gnu_get_libc_version();
    h->tool = "malloc-record " MS_VERSION;
    /* argv from /proc/self/cmdline, env from environ: all in one mapping */
    size_t const cap = 1u << 20;
    char *mem = rec_mem_alloc(NULL, cap);
    if (!mem) return -1;
    *argv_mem = mem;
    *argv_cap = cap;
    size_t used = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t k;
        while (used < cap / 2 - 1 && (k = read(fd, mem + used, cap / 2 - 1 - used)) > 0) used += (size_t)k;
        close(fd);
    }
    mem[used] = 0;
    const char **vec = (const char **)(mem + cap / 2);
    size_t const maxv = (cap / 2) / sizeof(char *) / 2;
    size_t nv = 0;
    for (size_t i = 0; i < used && nv < maxv; i += strlen(mem + i) + 1) vec[nv++] = mem + i;
    h->argv = vec;
    h->argc = nv;
    const char **ev = vec + nv;
    size_t ne = 0;
    for (char **e = environ; e && *e && ne < maxv; e++) {
        if (strncmp(*e, "MALLOC_RECORD_", 14) == 0) continue;
        if (strncmp(*e, "MALLOC_", 7) == 0 || strncmp(*e, "GLIBC_TUNABLES=", 15) == 0) ev[ne++] = *e;
    }
    h->env = ev;
    h->nenv = ne;
    return 0;
}

/* ---- modules ------------------------------------------------------------ */
typedef struct mod_s {
    uint64_t bias, start, size;
    char *path;
    uint8_t bid[64];
    uint8_t bid_len, seen;
} mod_t;

#define MAX_MODS 4096
static mod_t *mods;
static size_t nmods;
static unsigned long long last_adds = ~0ull, last_subs = ~0ull;
static char *pool; static size_t pool_left;

static char *pool_str(const char *s) {
    size_t const n = strlen(s) + 1;
    if (n > pool_left) {
        size_t const c = n > 65536 ? n : 65536;
        pool = rec_mem_alloc(NULL, c);
        if (!pool) { pool_left = 0; return NULL; }
        pool_left = c;
    }
    char *p = pool;
    memcpy(p, s, n);
    pool += n; pool_left -= n;
    return p;
}

static void emit_module(const mod_t *m, uint32_t flags) {
    tr_module_t tm = { m->bias, m->start, m->size, flags, m->path ? m->path : "",
                       m->bid, m->bid_len };
    tr_writer_module(w, &tm);
    dirty = 1;
}

/* The GNU build id among the notes [p, end) of a PT_NOTE segment (in
 * memory, or read from the file), into m->bid. */
static void note_build_id(mod_t *m, const uint8_t *p, const uint8_t *end) {
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
        size_t const nsz = (nh->n_namesz + 3) & ~3u, dsz = (nh->n_descsz + 3) & ~3u;
        const uint8_t *desc = p + sizeof *nh + nsz;
        if (desc + dsz > end) return;
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(p + sizeof *nh, "GNU", 4) == 0 &&
            nh->n_descsz <= sizeof m->bid) {
            memcpy(m->bid, desc, nh->n_descsz);
            m->bid_len = (uint8_t)nh->n_descsz;
            return;
        }
        p = desc + dsz;
    }
}

static int scan_cb(struct dl_phdr_info *info, size_t size, void *data) {
    int *first = data;
    if (*first) {
        *first = 0;
        if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
            if (info->dlpi_adds == last_adds && info->dlpi_subs == last_subs) return 1;
            /* a module went away, maybe by glibc's own dlclose (iconv's
             * gconv modules), which the dlclose hook never sees: the stack
             * caches and the walker's rules of its addresses go too */
            if (last_subs != ~0ull && info->dlpi_subs != last_subs) rec_stacks_code_changed();
            last_adds = info->dlpi_adds;
            last_subs = info->dlpi_subs;
        }
    }
    const char *name = info->dlpi_name;
    if (!name || !*name) name = exe_name();
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uint64_t const s = info->dlpi_addr + ph->p_vaddr;
        if (s < lo) lo = s;
        if (s + ph->p_memsz > hi) hi = s + ph->p_memsz;
    }
    if (hi == 0) return 0;
    for (size_t i = 0; i < nmods; i++)
        if (mods[i].bias == info->dlpi_addr && mods[i].start == lo && mods[i].path && strcmp(mods[i].path, name) == 0) {
            mods[i].seen = 1;
            return 0;
        }
    if (nmods >= MAX_MODS) return 0;
    mod_t *m = &mods[nmods++];
    memset(m, 0, sizeof *m);
    m->bias = info->dlpi_addr;
    m->start = lo;
    m->size = hi - lo;
    m->path = pool_str(name);
    m->seen = 1;
    for (int i = 0; i < info->dlpi_phnum && !m->bid_len; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        note_build_id(m, p, p + ph->p_memsz);
    }
    emit_module(m, 0);
    return 0;
}

static void modules_scan(void);
/* The module scan (dl_iterate_phdr) past the fork gate: during a fork, after it. */
static void modules_check(void) {
    while (!rec_gate_enter(&rec_writer_in_loader)) sched_yield();
    modules_scan();
    rec_gate_leave(&rec_writer_in_loader);
}

static void modules_scan(void) {
    if (!mods) {
        mods = rec_mem_alloc(NULL, sizeof(mod_t) * MAX_MODS);
        if (!mods) return;
    }
    for (size_t i = 0; i < nmods; i++) mods[i].seen = 2; /* 2 = not yet seen this scan */
    int first = 1;
    size_t const before = nmods;
    int stopped = dl_iterate_phdr(scan_cb, &first);
    if (stopped) { for (size_t i = 0; i < nmods; i++) mods[i].seen = 1; return; }
    size_t j = 0;
    for (size_t i = 0; i < nmods; i++) {
        if (mods[i].seen == 2 && i < before) { emit_module(&mods[i], TR_MODULE_UNLOADED); continue; }
        mods[j++] = mods[i];
    }
    nmods = j;
}

/* The module scan of a fatal signal's final pass. dl_iterate_phdr is out
 * there (the signalled thread may hold the loader's lock: a fault inside
 * dlopen or while a C++ exception is unwound), but a module loaded since
 * the last pass may have allocated already (a Python import just before a
 * SIGTERM): its stacks would point into no module of the trace. So the
 * kernel's list (/proc/self/maps) is read instead, and each file mapped
 * from offset 0 and executable somewhere, at an address no known module
 * covers, is read from its file (ELF header, program headers, build id:
 * pread, never the mapped memory, which a truncated file would turn into
 * SIGBUS). */
typedef struct { uint64_t lo, hi, off; int x; const char *path; } map_line_t;

static int pread_all(int fd, void *buf, size_t n, uint64_t off) {
    return pread(fd, buf, n, (off_t)off) == (ssize_t)n ? 0 : -1;
}

static void module_from_file(uint64_t start, const char *file) {
    int const fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ElfW(Ehdr) eh;
    ElfW(Phdr) ph[64];
    if (pread_all(fd, &eh, sizeof eh, 0) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 ||
        eh.e_phnum > 64 || pread_all(fd, ph, eh.e_phnum * sizeof *ph, eh.e_phoff) != 0) {
        close(fd);
        return;
    }
    uint64_t bias = 0, lo = UINT64_MAX, hi = 0;
    if (eh.e_type == ET_DYN) {
        for (int i = 0; i < eh.e_phnum; i++)
            if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
                bias = start - (ph[i].p_vaddr & ~(uint64_t)4095);
                break;
            }
    }
    for (int i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD) continue;
        uint64_t const a = bias + ph[i].p_vaddr;
        if (a < lo) lo = a;
        if (a + ph[i].p_memsz > hi) hi = a + ph[i].p_memsz;
    }
    if (hi == 0 || nmods >= MAX_MODS) { close(fd); return; }
    mod_t *m = &mods[nmods++];
    memset(m, 0, sizeof *m);
    m->bias = bias;
    m->start = lo;
    m->size = hi - lo;
    m->path = pool_str(file);
    m->seen = 1;
    for (int i = 0; i < eh.e_phnum && !m->bid_len; i++) {
        if (ph[i].p_type != PT_NOTE || ph[i].p_filesz > 4096) continue;
        uint8_t note[4096];
        if (pread_all(fd, note, ph[i].p_filesz, ph[i].p_offset) == 0) note_build_id(m, note, note + ph[i].p_filesz);
    }
    close(fd);
    emit_module(m, 0);
}

static uint64_t hex_num(const char **p) {
    uint64_t v = 0;
    for (;; (*p)++) {
        char const c = **p;
        if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
        else return v;
    }
}

static void modules_scan_maps(void) {
    if (!mods) return;
    int const fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t cap = 1u << 20, used = 0;
    char *buf = rec_mem_alloc(NULL, cap);
    for (ssize_t k; buf;) {
        if (used + 1 >= cap) {
            if (cap >= (64u << 20)) break;
            char *nb = rec_mem_alloc(NULL, cap * 2);
            if (nb) memcpy(nb, buf, used);
            rec_mem_free(NULL, buf);
            buf = nb;
            cap *= 2;
            continue;
        }
        k = read(fd, buf + used, cap - 1 - used);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        used += (size_t)k;
    }
    close(fd);
    if (!buf) return;
    buf[used] = 0;
    size_t const maxl = 65536;
    map_line_t *ml = rec_mem_alloc(NULL, maxl * sizeof *ml);
    size_t nl = 0;
    for (char *line = buf; ml && *line && nl < maxl;) {
        char *eol = strchr(line, '\n');
        if (eol) *eol = 0;
        const char *q = line;
        map_line_t l = { 0, 0, 0, 0, NULL };
        l.lo = hex_num(&q);
        if (*q == '-') q++;
        l.hi = hex_num(&q);
        while (*q == ' ') q++;
        l.x = q[0] && q[1] && q[2] == 'x';
        while (*q && *q != ' ') q++; /* perms */
        while (*q == ' ') q++;
        l.off = hex_num(&q);
        while (*q == ' ') q++;
        while (*q && *q != ' ') q++; /* dev */
        while (*q == ' ') q++;
        while (*q && *q != ' ') q++; /* inode */
        while (*q == ' ') q++;
        if (*q == '/') { l.path = q; ml[nl++] = l; }
        if (!eol) break;
        line = eol + 1;
    }
    for (size_t i = 0; i < nl; i++) {
        if (ml[i].off != 0) continue;
        int known = 0, exec = 0;
        for (size_t j = 0; j < nmods && !known; j++)
            if (ml[i].lo < mods[j].start + mods[j].size && ml[i].hi > mods[j].start) known = 1;
        for (size_t j = i; j < nl && j < i + 8 && !known && !exec; j++) /* the file's next mappings */
            if (strcmp(ml[j].path, ml[i].path) == 0 && ml[j].x) exec = 1;
        if (!known && exec) module_from_file(ml[i].lo, ml[i].path);
    }
    if (ml) rec_mem_free(NULL, ml);
    rec_mem_free(NULL, buf);
}

void rec_modules_dirty(void) { rec_kick_writer(); }

/* The process the writer thread runs in. A child made by a raw fork
 * (syscall(SYS_fork), clone without CLONE_VM: fork() is hooked, these are
 * not) has the parent's recorder state but no writer: it is not recorded
 * (its exec'd images are), and must never wait for a writer that is not
 * there (its exit waited 10 s, its first full ring 1 s). Checked on the
 * paths that would wait, never on the hot path. */
static pid_t writer_pid;

int rec_foreign_process(void) {
    if (!writer_pid || getpid() == writer_pid) return 0;
    atomic_store(&rec_on, 0);
    atomic_store(&rec_writer_running, 0);
    return 1;
}

void rec_writer_sync(void) {
    if (rec_foreign_process()) return;
    uint64_t const p0 = atomic_load(&rec_writer_progress);
    struct timespec const ts = { 0, 1000000 };
    for (int i = 0; i < 2000 && atomic_load(&rec_writer_running) && !failed &&
                    atomic_load(&rec_writer_progress) < p0 + 2; i++) {
        rec_kick_writer();
        nanosleep(&ts, NULL);
    }
}

/* ---- draining ----------------------------------------------------------- */
static void write_stack(uint32_t id) {
    if (id > (1u << 20)) return;
    if (stack_seen[id >> 3] & (1u << (id & 7))) return;
    const uint64_t *pcs;
    uint32_t const n = rec_stack_get(id, &pcs);
    if (!n) return;
    tr_writer_stack(w, id, pcs, n);
    stack_seen[id >> 3] |= (uint8_t)(1u << (id & 7));
}

/* Frame boundaries written so far (the last few, the first one the end of
 * the header), to cut back to on error; the last one is good_bytes. */
#define NBOUND 8
static uint64_t bound_bytes[NBOUND], bound_events[NBOUND], bound_frames[NBOUND];
static unsigned nbound;
static uint64_t last_flush_ns;

static void add_bound(void) {
    bound_bytes[nbound % NBOUND] = good_bytes;
    bound_events[nbound % NBOUND] = good_events;
    bound_frames[nbound % NBOUND] = frames;
    nbound++;
}

/* The zstd level follows the backlog: zlevel while the writer keeps up;
 * 1 (about twice as fast as 3 here, 2-10% larger) for the frames after one
 * in which some thread's ring filled (it grew or its thread waited); if
 * threads still wait at level 1, zstd's fast levels -1 then -3 (churn2:
 * 100 -> 93 ms, +12% size); back to zlevel once no ring filled and every
 * ring stayed below an eighth for a whole frame. */
static uint64_t frame_backlog; /* most events waiting in one ring this frame */
static uint64_t fulls_seen, waits_seen; /* rec_ring_fulls, _waits at the last frame's end */
#define REC_FAST_FLOOR (-3)
static int level_now;
static void adapt_level(void) {
    uint64_t const f = atomic_load_explicit(&rec_ring_fulls, memory_order_relaxed);
    uint64_t const wt = atomic_load_explicit(&rec_ring_waits, memory_order_relaxed);
    int want = level_now;
    if (wt != waits_seen && level_now <= 1) want = level_now > REC_FAST_FLOOR ? level_now - 2 : level_now;
    else if (f != fulls_seen) want = level_now > 1 ? 1 : level_now;
    else if (frame_backlog < REC_RING_SLOTS / 8) want = zlevel;
    waits_seen = wt;
    fulls_seen = f;
    if (want != level_now && tr_writer_set_level(w, want) == 0) level_now = want;
    frame_backlog = 0;
}

static void flush(void) {
    if (!dirty || failed) return;
    adapt_level();
    if (tr_writer_flush(w) == 0) {
        frames++;
        good_bytes = tr_writer_bytes(w);
        good_events = events_fed;
        add_bound();
    }
    dirty = 0;
    last_flush_ns = rec_now();
}

/* TSC -> ns since start: the scale is measured over the whole run so far
 * at each pass, which follows every event it converts. */
static double ns_per_tick;
/* ns_per_tick in 24.40 fixed point: an integer multiply per event instead of
 * float conversions (5 ns an hour from the double's result) */
static uint64_t ns_mult;
static void calibrate(void) {
    if (!rec_use_tsc) return;
    uint64_t const c = __rdtsc(), m = rec_now();
    if (c > rec_tsc0 + 1000 && m > rec_start_mono) ns_per_tick = (double)(m - rec_start_mono) / (double)(c - rec_tsc0);
    ns_mult = (uint64_t)(ns_per_tick * 1099511627776.0 + 0.5);
}
static inline uint64_t stamp_ns(uint64_t t) {
    if (rec_use_tsc) return t > rec_tsc0 ? (uint64_t)(((unsigned __int128)(t - rec_tsc0) * ns_mult) >> 40) : 0;
    return t >= rec_start_mono ? t - rec_start_mono : 0;
}

/* Unmaps the buffer a growth replaced once its events are all drained. */
static void drop_old_buffer(rec_ring_t *r, uint64_t tail) {
    rec_ev_t *const old = atomic_load_explicit(&r->old_ev, memory_order_acquire);
    if (old && tail >= r->switch_at) {
        /* forgotten before it is unmapped: a fork in between leaves the child
         * a mapped buffer it does not know (1 MiB at most), never a pointer
         * to a range that is gone, which the child's writer would unmap
         * again over whatever the child mapped there since */
        atomic_store_explicit(&r->old_ev, NULL, memory_order_release);
        rec_ring_buf_free(old); /* the producer stopped writing to it before setting old_ev */
    }
}

static void drain_ring(rec_ring_t *r) {
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t const h = r->snap_head, t0 = t;
    if (t == h) {
        drop_old_buffer(r, t);
        return;
    }
    /* the buffer first, then the one a growth replaced: a buffer newer than
     * the snapshot's head is never seen without the old one (ring.c) */
    const rec_ev_t *const cur = atomic_load_explicit(&r->ev, memory_order_acquire);
    const rec_ev_t *const old = atomic_load_explicit(&r->old_ev, memory_order_acquire);
    uint64_t const cmask = rec_ring_buf_mask(cur), omask = old ? rec_ring_buf_mask(old) : 0;
    uint64_t const sw = old ? r->switch_at : 0;
    tr_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.tid = r->tid;
    /* in locals: tr_writer_event is an outside call, so globals would be
     * loaded and stored around every event */
    uint64_t fed = events_fed, last = r->drained_seq;
    uint64_t const res = time_res;
    for (; t < h; t++) {
        const rec_ev_t *e = REC_UNLIKELY(t < sw) ? &old[t & omask] : &cur[t & cmask];
        if (e->stack) write_stack(e->stack);
        ev.seq = e->seq;
        ev.release_seq = e->seq - e->drel;
        uint64_t const ns = stamp_ns(e->t);
        ev.t_ns = ns - (res == 1000 ? ns % 1000 : ns % res); /* the default divides by a constant */
        ev.a = e->a; ev.b = e->b; ev.c = e->c;
        ev.ret = e->ret;
        ev.stack = e->stack;
        ev.op = e->op;
        ev.str = e->op == TR_OP_EXEC ? rec_exec_path : NULL;
        if (tr_writer_event(w, &ev)) break;
        last = e->seq;
        if ((++fed & 0x3ffff) == 0) { /* bound a frame to ~256K events */
            events_fed = fed;
            r->drained_seq = last;
            dirty = 1;
            flush();
        }
    }
    if (t != t0) {
        events_fed = fed;
        r->drained_seq = last;
        dirty = 1;
    }
    atomic_store_explicit(&r->tail, t, memory_order_release);
    drop_old_buffer(r, t);
}

static uint64_t dropped_total(void) {
    uint64_t d = dropped_recycled;
    for (rec_ring_t *r = rec_ring_list(); r; r = r->next) d += atomic_load(&r->dropped);
    return d;
}

/* A ring whose thread is gone goes back to REC_RING_MIN slots before a new
 * thread may take it: nothing writes to it meanwhile. */
static void shrink_ring(rec_ring_t *r) {
    drop_old_buffer(r, atomic_load(&r->tail));
    rec_ev_t *const ev = atomic_load(&r->ev);
    if (rec_ring_buf_mask(ev) + 1 <= REC_RING_MIN || atomic_load(&r->old_ev)) return;
    rec_ev_t *const small = rec_ring_buf(REC_RING_MIN, 0);
    if (!small) return;
    atomic_store(&r->ev, small);
    r->mask = REC_RING_MIN - 1;
    rec_ring_buf_free(ev);
}

/* One pass: snapshot, modules, drain, thread exits, watermark, frame. */
static void pass(int final) {
    uint64_t const S = atomic_load(&rec_seq);
    calibrate();
    for (rec_ring_t *r = rec_ring_list(); r; r = r->next) {
        r->snap_live = atomic_load(&r->state) != RING_FREE;
        r->snap_busy = atomic_load(&r->busy);
        r->snap_head = atomic_load_explicit(&r->head, memory_order_acquire);
        uint64_t const waiting = r->snap_head - atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (r->snap_live && waiting > frame_backlog) frame_backlog = waiting;
    }
    if (final != TR_END_SIGNAL + 1) modules_check();
    else modules_scan_maps();
    uint64_t wm = S + 1;
    pid_t const pid = getpid();
    for (rec_ring_t *r = rec_ring_list(); r && !failed; r = r->next) {
        if (!r->snap_live) continue;
        drain_ring(r);
        if (r->snap_busy && r->drained_seq + 1 < wm) wm = r->drained_seq + 1;
        /* a thread that ran its key destructors and is gone: thread_exit, recycle */
        if (final != TR_END_SIGNAL + 1 && atomic_load(&r->state) == RING_EXITING &&
            atomic_load(&r->head) == atomic_load(&r->tail) &&
            syscall(SYS_tgkill, pid, r->tid, 0) != 0 && errno == ESRCH) {
            tr_event_t ev;
            memset(&ev, 0, sizeof ev);
            ev.seq = ev.release_seq = atomic_fetch_add(&rec_seq, 1) + 1;
            uint64_t const now = rec_now();
            ev.t_ns = now - rec_start_mono;
            ev.tid = r->tid;
            ev.op = TR_OP_THREAD_EXIT;
            tr_writer_event(w, &ev);
            events_fed++;
            dirty = 1;
            dropped_recycled += atomic_exchange(&r->dropped, 0);
            shrink_ring(r);
            atomic_store(&r->state, RING_FREE);
        }
    }
    if (!failed && wm > 1 && dirty) tr_writer_watermark(w, wm);
    /* a frame per 100 ms, not per pass: a busy program wakes the writer
     * every few thousand events, and small frames cost size and time */
    if (final || rec_now() - last_flush_ns >= 95000000u) flush();
    atomic_fetch_add(&rec_writer_progress, 1);
}

/* ---- errors: cut back to the last frame, append END(error) --------------- */
static void log_line(int reason, int status, uint64_t events, uint64_t dropped, uint64_t bytes);

static int ok;
static uint64_t end_dropped; /* what the END written by hand says */
static void *end_ws;         /* a static zstd context's workspace for that END, */
static size_t end_ws_size;   /* mapped once per process at start (~31 KiB) */
static void end_frame_by_hand(int fd, int err_no) {
    ok = 0;
    end_dropped = dropped_total() + (events_fed - good_events);
    uint8_t raw[96];
    size_t n = 0;
    raw[n++] = 0x02; /* SYNC */
    size_t const k = tr_put_varint(raw + n + 1, frames);
    raw[n] = (uint8_t)k;
    n += 1 + k;
    uint8_t pl[64];
    size_t p = 0;
    p += tr_put_varint(pl + p, TR_END_ERROR);
    p += tr_put_varint(pl + p, tr_zigzag(err_no));
    p += tr_put_varint(pl + p, rec_now() - rec_start_mono);
    p += tr_put_varint(pl + p, good_events);
    p += tr_put_varint(pl + p, end_dropped);
    raw[n++] = 0x07; /* END */
    raw[n++] = (uint8_t)p;
    memcpy(raw + n, pl, p);
    n += p;
    /* in the workspace set aside at start: the error may be that no memory
     * is left (the zstd stream itself failed to allocate) */
    ZSTD_CCtx *c = end_ws ? ZSTD_initStaticCCtx(end_ws, end_ws_size) : NULL;
    if (!c) return;
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    uint8_t out[256];
    size_t const z = ZSTD_compress2(c, out, sizeof out, raw, n);
    if (ZSTD_isError(z)) return;
    if (pwrite(fd, out, z, (off_t)good_bytes) != (ssize_t)z) {
        if (ftruncate(fd, (off_t)good_bytes) != 0) { /* nothing more to do */ }
        return;
    }
    good_bytes += z;
    ok = 1;
}

static _Atomic int end_pending; /* errno of an END(error) still to write */
int rec_end_pending(void) { return atomic_load(&end_pending) != 0; }
static void end_error(int err_no, int last);

/* Recording stops for good: print the reason once, cut the file back to
 * the last complete frame (earlier ones if END does not fit after it) and
 * append a frame holding END(error, err_no). w is already closed. */
static void end_by_hand(const char *why, int err_no) {
    failed = 1;
    atomic_store(&rec_on, 0);
    char msg[PATH_MAX + 400];
    struct stat st; /* a fifo or device (a stream) cannot be cut back to append END */
    int const stream = fstat(atomic_load(&fd_now), &st) == 0 && !S_ISREG(st.st_mode);
    snprintf(msg, sizeof msg, "malloc-record: %s: %s; recording stopped%s\n", path, why,
             stream ? "" : ", the trace ends with END reason error");
    rec_diag(msg);
    end_error(err_no, 0);
}

/* END(error, err_no) after the last complete frame, and the summary. With
 * no number for the trace now (the program holds them all), both wait for
 * the end (end_pending), unless this is the last try. */
static void end_error(int err_no, int last) {
    pthread_mutex_lock(&fd_lock);
    int const fd = trace_fd_get();
    pthread_mutex_unlock(&fd_lock);
    if (fd < 0 && !last) {
        atomic_store(&end_pending, err_no ? err_no : EIO);
        return;
    }
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        /* no room for END after the last frame: give up frames until it fits */
        for (unsigned back = 0;; back++) {
            if (ftruncate(fd, (off_t)good_bytes) != 0) break;
            end_frame_by_hand(fd, err_no);
            if (ok || back + 2 > nbound || back + 1 >= NBOUND) break;
            unsigned const i = (nbound - back - 2) % NBOUND; /* the boundary before */
            good_bytes = bound_bytes[i];
            good_events = bound_events[i];
            frames = bound_frames[i];
        }
    }
    /* the summary says what END says: the events lost in the cut-back frames too */
    log_line(TR_END_ERROR, err_no, good_events, ok ? end_dropped : dropped_total() + (events_fed - good_events),
             good_bytes);
}

/* The writer met an error (disk full, ...) while recording. */
static void writer_failed(void) {
    if (failed) return;
    atomic_store(&rec_on, 0); /* producers stop at once */
    tr_error_t const e = *tr_writer_error(w);
    tr_writer_close(w, NULL, NULL);
    w = NULL;
    end_by_hand(e.msg, e.sys_errno ? e.sys_errno : EIO);
}

/* the log, opened at the trace's start; close/close_range/closefrom skip
 * it and dup2/dup3 onto it move it (proc.c), as for the trace's fd */
static _Atomic int log_fd = -1;
static dev_t log_dev;
static ino_t log_ino;

int rec_log_fd(void) { return atomic_load(&log_fd); }

/* The program is about to dup2 over the log's number: the log moves, or is
 * let go (it is then opened again by name when a line is due). */
void rec_log_fd_move(void) {
    pthread_mutex_lock(&fd_lock);
    int const old = atomic_load(&log_fd);
    if (old >= 0) atomic_store(&log_fd, rec_fd_dup_high(old));
    pthread_mutex_unlock(&fd_lock);
}

/* 1 if log_fd is still the log (the program may have put a file of its own
 * at the number all the same, with a raw system call). */
static int log_fd_ok(void) { return same_file(atomic_load(&log_fd), log_dev, log_ino); }

/* Opens the log once the trace has begun and keeps it: a program that
 * drops its privileges (setuid) could not open malloc-record's log again
 * by name at its end (it was then reported as killed). A fork child keeps
 * its parent's if it is still the log. */
static void log_keep(void) {
    if (!*env_log || log_fd_ok()) return;
    atomic_store(&log_fd, -1);
    /* only above the program's soft limit: a number below it is one the
     * program may count on (the trace's fd is the one the recorder needs) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
        (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= 1024 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= rl.rlim_cur))
        return;
    int const fd = open(env_log, O_WRONLY | O_APPEND | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) != 0) { close(fd); return; }
    log_dev = st.st_dev;
    log_ino = st.st_ino;
    atomic_store(&log_fd, rec_fd_park(fd));
}

/* Appends one line to malloc-record's log (MALLOC_RECORD_LOG), if any: the
 * file exists (malloc-record made it and removes it at the end, so a
 * process that outlives it writes nowhere). */
static void log_write(const char *line, int n) {
    const char *lp = env_log;
    if (!*lp || n <= 0) return;
    if (log_fd_ok()) {
        if (__real_write(atomic_load(&log_fd), line, (size_t)n) < 0) { /* best effort */ }
        return;
    }
    int fd = open(lp, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 && errno == EMFILE) { /* the program used every number: one above its limit */
        struct rlimit rl, up;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur)) {
            up = rl;
            up.rlim_cur = rl.rlim_cur + 1;
            if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
                fd = open(lp, O_WRONLY | O_APPEND | O_CLOEXEC);
                setrlimit(RLIMIT_NOFILE, &rl);
            }
        }
    }
    if (fd < 0) return;
    if (__real_write(fd, line, (size_t)n) < 0) { /* best effort */ }
    close(fd);
}

/* The summary of a trace that ended: pid, reason, status, events, dropped,
 * bytes, path. */
/* CPU time of the clock in ns, 0 if it cannot be read. */
static uint64_t cpu_ns(clockid_t c) {
    struct timespec ts;
    return clock_gettime(c, &ts) == 0 ? (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec : 0;
}

/* The summary: pid, reason, status, events, dropped, bytes, the writer
 * thread's CPU ns and the whole process's so far (what recording cost off
 * the program's threads, and against what), path. */
static void log_line(int reason, int status, uint64_t events, uint64_t dropped, uint64_t bytes) {
    if (!*env_log) return;
    clockid_t wc;
    uint64_t const wcpu = atomic_load(&rec_writer_running) || pthread_equal(pthread_self(), thread)
                              ? (pthread_getcpuclockid(thread, &wc) == 0 ? cpu_ns(wc) : 0)
                              : 0;
    char line[PATH_MAX + 240];
    int const n = snprintf(line, sizeof line, "%d\t%d\t%d\t%llu\t%llu\t%llu\t%llu\t%llu\t%s\n", (int)getpid(),
                           reason, status, (unsigned long long)events, (unsigned long long)dropped,
                           (unsigned long long)bytes, (unsigned long long)wcpu,
                           (unsigned long long)cpu_ns(CLOCK_PROCESS_CPUTIME_ID), path);
    log_write(line, n < (int)sizeof line ? n : (int)sizeof line - 1);
}

/* A trace that began: "S", pid, path (so that malloc-record can name the
 * traces of processes that had not ended when it did). */
static void log_start(void) {
    if (!*env_log) return;
    char line[PATH_MAX + 40];
    int const n = snprintf(line, sizeof line, "S\t%d\t%s\n", (int)getpid(), path);
    log_write(line, n < (int)sizeof line ? n : (int)sizeof line - 1);
}

/* A trace that could not begin: "F", pid, path, why (the process said so on
 * stderr too; malloc-record must not report it as a trace, nor as a program
 * that did not load the library). */
static void log_failed(const char *why) {
    if (!*env_log) return;
    char line[PATH_MAX + 300];
    int n = snprintf(line, sizeof line, "F\t%d\t%s\t%s", (int)getpid(), path, why);
    if (n >= (int)sizeof line - 1) n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++) if (line[i] == '\n') line[i] = ' ';
    line[n++] = '\n';
    log_write(line, n);
}

/* ---- the thread --------------------------------------------------------- */
static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
    return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static void finish(void) {
    /* in-flight events of other threads: a few more passes while any is busy */
    for (int i = 0; i < 20 && !failed; i++) {
        pass(final_reason + 1);
        if (tr_writer_error(w)->code) { writer_failed(); break; }
        int busy = 0;
        for (rec_ring_t *r = rec_ring_list(); r; r = r->next)
            if (atomic_load(&r->state) != RING_FREE && (atomic_load(&r->busy) || atomic_load(&r->head) != atomic_load(&r->tail))) busy = 1;
        if (!busy) break;
        sched_yield();
    }
    if (!failed) {
        tr_end_t end = { (uint32_t)final_reason, final_status, rec_now() - rec_start_mono, 0, dropped_total() };
        uint64_t const ev = events_fed;
        tr_error_t err;
        if (tr_writer_close(w, &end, &err) != 0) {
            /* the last frame or END did not fit: END(error) by hand after
             * the last complete frame */
            w = NULL;
            end_by_hand(err.msg, err.sys_errno ? err.sys_errno : EIO);
        } else {
            struct stat st;
            uint64_t bytes = good_bytes;
            if (fstat(atomic_load(&fd_now), &st) == 0 && S_ISREG(st.st_mode)) bytes = (uint64_t)st.st_size;
            /* the trace's number first: a program that used every other
             * one still gets its summary line */
            trace_fd_drop();
            log_line(final_reason, final_status, ev, end.dropped, bytes);
        }
        w = NULL;
    }
    int const pending = atomic_exchange(&end_pending, 0);
    if (pending) end_error(pending, 1); /* last try; the summary either way */
    trace_fd_drop();
}

/* After the main thread's pthread_exit: 1 when no thread but the writer
 * and the main thread (a zombie until the process ends, still counted) is
 * left, from the kernel's thread count. */
static int writer_alone(void) {
    char buf[1024];
    int const fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t const k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0) return 0;
    buf[k] = 0;
    const char *p = strrchr(buf, ')');
    if (!p) return 0;
    /* the fields after the name: state is field 3, num_threads field 20 */
    for (int field = 2; field < 20 && *p; field++) {
        p = strchr(p + 1, ' ');
        if (!p) return 0;
    }
    long const n = atol(p + 1);
    return n >= 1 && n <= 2;
}

static void *writer_main(void *arg) {
    (void)arg;
    rec_t.guard = 1;
    rec_t.internal = 1;
    int last = 0;
    for (;;) {
        uint32_t const k = atomic_load(&rec_kick);
        if (atomic_load(&final_req)) break;
        if (atomic_load(&rec_main_exited) && writer_alone() && !atomic_exchange(&final_taken, 1)) {
            /* the program's last thread is gone: END exit 0 and return, and
             * glibc ends the process with exit(0) as it would untraced */
            last = 1;
            atomic_store(&rec_on, 0);
            final_reason = TR_END_EXIT;
            final_status = 0;
            break;
        }
        if (!failed) {
            pass(0);
            if (!failed && tr_writer_error(w)->code) writer_failed();
        }
        if (atomic_load(&final_req)) break;
        if (failed) atomic_store(&rec_writer_running, 0); /* producers drop instead of waiting */
        atomic_store(&rec_writer_sleeping, 1);
        struct timespec ts = { 0, 100000000 };
        futex(&rec_kick, FUTEX_WAIT_PRIVATE, k, &ts);
        atomic_store(&rec_writer_sleeping, 0);
    }
    if (!failed) {
        finish();
    } else if (fd_tag >= 0) {
        int const pending = atomic_exchange(&end_pending, 0);
        if (pending) end_error(pending, 1); /* last try; the summary either way */
        trace_fd_drop();
    }
    atomic_store(&rec_writer_running, 0);
    atomic_store(&final_done, 1);
    futex(&final_done, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
    if (last) {
        /* exit(0) and the program's atexit handlers will run in this
         * thread: as in a program thread (recording is off), with the
         * signal mask the main thread had */
        pthread_sigmask(SIG_SETMASK, &rec_main_exit_mask, NULL);
        rec_t.internal = 0;
        rec_t.guard = 0;
    }
    return NULL;
}

void rec_writer_start(int after_exec_failure) {
    (void)after_exec_failure;
    if (!atomic_load(&rec_on) && !after_exec_failure) return;
    uint8_t const g = rec_t.guard;
    rec_t.guard = 1;
    failed = 0;
    frames = 1;
    dirty = 0;
    events_fed = good_events = 0;
    nbound = 0;
    last_flush_ns = 0;
    nmods = 0;
    last_adds = last_subs = ~0ull;
    atomic_store(&final_req, 0);
    atomic_store(&final_taken, 0);
    atomic_store(&final_done, 0);
    env_snapshot();
    if (!end_ws) {
        /* level 1 on an input under 256 bytes: zstd's smallest parameters */
        end_ws_size = ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams(1, 256, 0));
        end_ws = rec_mem_alloc(NULL, end_ws_size);
    }
    if (!stack_seen) stack_seen = rec_mem_alloc(NULL, (1u << 20) / 8 + 1);
    else memset(stack_seen, 0, (1u << 20) / 8 + 1);
    int fd = open_trace();
    if (fd < 0) {
        char msg[PATH_MAX + 200];
        int const e = errno;
        snprintf(msg, sizeof msg, "malloc-record: %s: cannot create the trace: %s; not recording\n", path,
                 strerror(e));
        rec_diag(msg);
        snprintf(msg, sizeof msg, "cannot create the trace: %s", strerror(e));
        log_failed(msg);
        atomic_store(&rec_on, 0);
        rec_t.guard = g;
        return;
    }
    fd = rec_fd_park(fd);
    fd_tag = fd;
    struct stat tst;
    if (fstat(fd, &tst) == 0) trace_dev = tst.st_dev, trace_ino = tst.st_ino;
    atomic_store(&fd_now, fd);
    tr_header_t h;
    char *mem = NULL;
    size_t cap = 0;
    /* 1 us by default: a third of the size of ns, far finer than any tool's */
    time_res = env_time_res > 0 ? (uint64_t)env_time_res : 1000;
    /* level 1: on the 2-CPU test VM zstd runs at 75 MB/s on a churn trace at
     * level 1 against 32 MB/s at 3, and the writer's zstd was the bottleneck
     * of threaded churn and 3-33% of the CPU a recorded program costs; level 3
     * is 8-10% smaller (perl, gcc, churn), --level 3 to get it */
    zlevel = env_level >= 1 && env_level <= 19 ? (int)env_level : 3;
    level_now = zlevel;
    frame_backlog = 0;
    fulls_seen = atomic_load(&rec_ring_fulls);
    waits_seen = atomic_load(&rec_ring_waits);
    tr_writer_opts_t o = { zlevel, (size_t)1 << 40, rec_mem_alloc, rec_mem_free, NULL };
    tr_error_t err;
    w = NULL;
    if (build_header(&h, &mem, &cap) == 0) w = tr_writer_open_fd(fd, 0, &h, &o, &err);
    else snprintf(err.msg, sizeof err.msg, "out of memory");
    if (mem) rec_mem_free(NULL, mem);
    if (!w) {
        char msg[PATH_MAX + 400];
        snprintf(msg, sizeof msg, "malloc-record: %s: %s; not recording\n", path, err.msg);
        rec_diag(msg);
        log_failed(err.msg);
        atomic_store(&fd_now, -1); /* first: close() protects the trace fd */
        close(fd);
        fd_tag = -1;
        if (trace_created) unlink(path); /* no half-written file: nothing is recorded */
        atomic_store(&rec_on, 0);
        rec_t.guard = g;
        return;
    }
    log_keep();
    log_start(); /* a trace with its header: malloc-record may name it */
    /* the module map of start-up goes out now: a process killed by a signal
     * before the writer's first pass still symbolizes (the signal path may
     * not call dl_iterate_phdr) */
    modules_check();
    good_bytes = tr_writer_bytes(w);
    add_bound();
    if (after_exec_failure) atomic_store(&rec_on, 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    sigset_t all;
    sigfillset(&all);
    pthread_attr_setsigmask_np(&attr, &all);
    int (*create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) = rec_next("pthread_create");
    atomic_store(&rec_writer_running, 1);
    writer_pid = getpid();
    if (!create || create(&thread, &attr, writer_main, NULL) != 0) {
        atomic_store(&rec_writer_running, 0);
        rec_diag("malloc-record: cannot start the writer thread; not recording\n");
        log_failed("cannot start the writer thread");
        atomic_store(&rec_on, 0);
        tr_writer_close(w, NULL, NULL);
        w = NULL;
        atomic_store(&fd_now, -1); /* first: close() protects the trace fd */
        close(fd);
        fd_tag = -1;
        if (trace_created) unlink(path);
    }
    pthread_attr_destroy(&attr);
    rec_t.guard = g;
}

void rec_final(int reason, int status) {
    if (rec_foreign_process()) return;
    if (atomic_exchange(&final_taken, 1)) {
        /* someone else is finishing: wait for it (bounded) unless we are it */
        if (!rec_t.internal) {
            struct timespec ts = { 0, 100000000 };
            for (int i = 0; i < 50 && !atomic_load(&final_done) && atomic_load(&rec_writer_running); i++)
                futex(&final_done, FUTEX_WAIT_PRIVATE, 0, &ts);
        }
        return;
    }
    atomic_store(&rec_on, 0);
    /* recording had stopped on an error with no number for the trace: its
     * END(error) and the summary, now that the program may have freed one */
    int const pending = atomic_exchange(&end_pending, 0);
    if (pending) end_error(pending, 1);
    if (!atomic_load(&rec_writer_running)) return;
    final_reason = reason;
    final_status = status;
    atomic_store(&final_req, 1);
    rec_kick_writer();
    futex(&rec_kick, FUTEX_WAKE_PRIVATE, 1, NULL);
    struct timespec ts = { 0, 100000000 };
    for (int i = 0; i < 100 && !atomic_load(&final_done); i++) /* at most 10 s */
        futex(&final_done, FUTEX_WAIT_PRIVATE, 0, &ts);
}

void rec_writer_after_fork(void) {
    /* the parent's writer object and file belong to the parent: forget them */
    pthread_mutex_init(&fd_lock, NULL);
    trace_fd_drop();
    atomic_store(&end_pending, 0);
    w = NULL;
    mods = NULL;
    nmods = 0;
    pool = NULL;
    pool_left = 0;
    dropped_recycled = 0;
    atomic_store(&rec_seq, 0);
}
