/* plot.c - drives gnuplot: one self-contained script per chart (data inline
 * as datablocks), kept beside the images so they can be re-plotted, run once
 * for a PNG (pngcairo, else libgd png) and once for an SVG. Every file
 * appears whole or not at all: the scripts through tr_out_open, the images
 * drawn under temporary names and renamed once both are complete (gnuplot
 * exits 0 after a failed write). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

extern char **environ;

static int on_path(const char *prog, char *out, size_t cap) {
    const char *env = getenv("PATH");
    while (env && *env) {
        size_t const len = strcspn(env, ":");
        snprintf(out, cap, "%.*s/%s", (int)(len ? len : 1), len ? env : ".", prog);
        if (access(out, X_OK) == 0) return 0;
        env += len + (env[len] == ':');
    }
    out[0] = 0;
    return -1;
}

/* Starts gnuplot on script (in dir when dir != NULL), after the commands in
 * pre (or none), output discarded unless log. */
static pid_t spawn_gnuplot(const char *gp, const char *dir, const char *pre, const char *script, const char *log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (dir) posix_spawn_file_actions_addchdir_np(&fa, dir); /* after the log opens: its path is ours */
    char *argv[] = { (char *)gp, NULL, NULL, NULL, NULL, NULL };
    int k = 1;
    if (pre) { argv[k++] = "-e"; argv[k++] = (char *)pre; }
    if (script[0] == '-') { argv[k++] = "-e"; argv[k++] = (char *)script + 1; }
    else argv[k++] = (char *)script;
    pid_t pid;
    int const e = posix_spawn(&pid, gp, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return e ? -1 : pid;
}

static int wait_ok(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int run_gnuplot(const char *gp, const char *dir, const char *script, const char *log) {
    pid_t const pid = spawn_gnuplot(gp, dir, NULL, script, log);
    return pid < 0 ? -1 : wait_ok(pid);
}

/* The suffix of the images while gnuplot draws them. */
static void tmp_suffix(char *out, size_t cap) {
    snprintf(out, cap, ".tmp.%ld", (long)getpid());
}

/* 1 if path ends as a whole PNG (its IEND chunk) or SVG ("</svg>") does:
 * gnuplot does not report a failed write, a cut image has neither. */
static int whole_image(const char *path, int png) {
    static const unsigned char iend[12] = { 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82 };
    unsigned char tail[64];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = 0;
    if (fseek(f, -(long)sizeof tail, SEEK_END) != 0) rewind(f);
    n = fread(tail, 1, sizeof tail, f);
    fclose(f);
    if (png) return n >= sizeof iend && memcmp(tail + n - sizeof iend, iend, sizeof iend) == 0;
    while (n && (tail[n - 1] == '\n' || tail[n - 1] == ' ' || tail[n - 1] == '\r')) n--;
    return n >= 6 && memcmp(tail + n - 6, "</svg>", 6) == 0;
}

/* Waits for the oldest running chart and accounts for it. */
static void reap_one(rp_plot_t *p) {
    rp_job_t const j = p->jobs[0];
    memmove(p->jobs, p->jobs + 1, (size_t)(--p->njobs) * sizeof *p->jobs);
    char log[4200], sfx[32], tmp[2][4200], img[2][4200];
    snprintf(log, sizeof log, "%s/%s.gnuplot.log", j.dir, j.name);
    tmp_suffix(sfx, sizeof sfx);
    for (int k = 0; k < 2; k++) {
        snprintf(img[k], sizeof img[k], "%s/%s.%s", j.dir, j.name, k ? "svg" : "png");
        snprintf(tmp[k], sizeof tmp[k], "%s%s", img[k], sfx);
    }
    int const ok = wait_ok(j.pid) == 0;
    int whole = ok;
    for (int k = 0; k < 2 && whole; k++)
        if (!whole_image(tmp[k], !k)) {
            whole = 0;
            snprintf(p->why, sizeof p->why, "%s: incomplete (a write failed: disk full?)", img[k]);
        }
    for (int k = 0; k < 2 && whole; k++)
        if (rename(tmp[k], img[k]) != 0) {
            whole = 0;
            snprintf(p->why, sizeof p->why, "%s: %s", img[k], strerror(errno));
        }
    if (!whole) {
        unlink(tmp[0]);
        unlink(tmp[1]);
        if (!ok) snprintf(p->why, sizeof p->why, "gnuplot failed on %s/%s.gp (see %s)", j.dir, j.name, log);
        else unlink(log);
        p->failed++;
        return;
    }
    unlink(log);
    p->charts++;
}

void rp_plot_wait(rp_plot_t *p) {
    while (p->njobs) reap_one(p);
}

int rp_plot_init(rp_plot_t *p) {
    memset(p, 0, sizeof *p);
    if (on_path("gnuplot", p->gnuplot, sizeof p->gnuplot) < 0) {
        snprintf(p->why, sizeof p->why, "gnuplot not found on PATH: no charts (install gnuplot-nox)");
        return -1;
    }
    if (run_gnuplot(p->gnuplot, NULL, "-set terminal pngcairo", NULL) == 0) p->png_term = "pngcairo";
    else if (run_gnuplot(p->gnuplot, NULL, "-set terminal png", NULL) == 0) p->png_term = "png";
    else {
        snprintf(p->why, sizeof p->why, "%s has neither the pngcairo nor the png terminal: no charts",
                 p->gnuplot);
        p->gnuplot[0] = 0;
        return -1;
    }
    return 0;
}

static const char style[] =
    "set encoding utf8\n"
    "set border 3 lw 1 lc rgb '#606060'\n"
    "set tics nomirror out scale 0.6 textcolor rgb '#303030'\n"
    "set grid ytics lt 1 lw 1 lc rgb '#e4e4e4'\n"
    "set key top left reverse Left opaque noautotitle samplen 2 spacing 1.1 box lc rgb '#cccccc'\n"
    "set title font ',13' textcolor rgb '#202020'\n"
    "set xlabel textcolor rgb '#303030'\n"
    "set ylabel textcolor rgb '#303030'\n"
    "set style line 1 lc rgb '#1f77b4' lw 2\n"
    "set style line 2 lc rgb '#ff7f0e' lw 2\n"
    "set style line 3 lc rgb '#2ca02c' lw 2\n"
    "set style line 4 lc rgb '#d62728' lw 2\n"
    "set style line 5 lc rgb '#9467bd' lw 2\n"
    "set style line 6 lc rgb '#8c564b' lw 2\n"
    "set style line 7 lc rgb '#e377c2' lw 2\n"
    "set style line 8 lc rgb '#7f7f7f' lw 2\n"
    "set style line 9 lc rgb '#bcbd22' lw 2\n"
    "set style increment user\n"
    "set format y '%.4g'\n";

int rp_plot(rp_plot_t *p, const char *dir, const char *name, int width, int height,
            const char *body) {
    if (!p->gnuplot[0]) return -1;
    char path[4096], log[4096];
    snprintf(path, sizeof path, "%s/%s.gp", dir, name);
    snprintf(log, sizeof log, "%s/%s.gnuplot.log", dir, name);
    tr_out_t out;
    if (tr_out_open(&out, path) != 0) {
        snprintf(p->why, sizeof p->why, "%s: %s", path, strerror(errno));
        p->failed++;
        return -1;
    }
    FILE *const f = out.f;
    int const cairo = strcmp(p->png_term, "pngcairo") == 0;
    fprintf(f, "# %s.gp - written by malloc-report; `gnuplot %s.gp` redraws %s.png and %s.svg\n",
            name, name, name, name);
    fprintf(f, "# (malloc-report sets out_suffix: it draws to temporary names, renamed when whole)\n"
               "if (!exists(\"out_suffix\")) out_suffix = ''\n");
    fprintf(f, "set terminal %s size %d,%d %s font '%s,10' background rgb 'white'\n",
            p->png_term, width, height, cairo ? "enhanced" : "", cairo ? "DejaVu Sans" : "");
    fprintf(f, "set output '%s.png'.out_suffix\n%s%s\n", name, style, body);
    fprintf(f, "set terminal svg size %d,%d dynamic enhanced font 'DejaVu Sans,10' background rgb 'white'\n"
               "set output '%s.svg'.out_suffix\nreplot\nunset output\n", width, height, name);
    if (tr_out_commit(&out) != 0) {
        snprintf(p->why, sizeof p->why, "%s: write error", path);
        p->failed++;
        return -1;
    }
    char script[512];
    snprintf(script, sizeof script, "%s.gp", name);
    /* Charts are independent: run as many gnuplots as there are CPUs (at most 4). */
    long const ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int const max = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
    while (p->njobs >= max) reap_one(p);
    char sfx[32], pre[64];
    tmp_suffix(sfx, sizeof sfx);
    snprintf(pre, sizeof pre, "out_suffix='%s'", sfx);
    pid_t const pid = spawn_gnuplot(p->gnuplot, dir, pre, script, log);
    if (pid < 0) {
        snprintf(p->why, sizeof p->why, "cannot run %s: %s", p->gnuplot, strerror(errno));
        p->failed++;
        return -1;
    }
    rp_job_t *j = &p->jobs[p->njobs++];
    j->pid = pid;
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    snprintf(j->name, sizeof j->name, "%s", name);
    return 0;
}
