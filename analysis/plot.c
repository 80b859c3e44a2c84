/* plot.c - drives gnuplot: one self-contained script per chart (data inline
 * as datablocks), kept beside the images so they can be re-plotted, run once
 * for a PNG (pngcairo, else libgd png) and once for an SVG. */
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

/* Starts gnuplot on script (in dir when dir != NULL), output discarded unless log. */
static pid_t spawn_gnuplot(const char *gp, const char *dir, const char *script, const char *log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (dir) posix_spawn_file_actions_addchdir_np(&fa, dir); /* after the log opens: its path is ours */
    char *argv[] = { (char *)gp, NULL, NULL, NULL };
    if (script[0] == '-') { argv[1] = "-e"; argv[2] = (char *)script + 1; }
    else argv[1] = (char *)script;
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
    pid_t const pid = spawn_gnuplot(gp, dir, script, log);
    return pid < 0 ? -1 : wait_ok(pid);
}

/* Waits for the oldest running chart and accounts for it. */
static void reap_one(rp_plot_t *p) {
    rp_job_t const j = p->jobs[0];
    memmove(p->jobs, p->jobs + 1, (size_t)(--p->njobs) * sizeof *p->jobs);
    char log[4200];
    snprintf(log, sizeof log, "%s/%s.gnuplot.log", j.dir, j.name);
    if (wait_ok(j.pid) < 0) {
        snprintf(p->why, sizeof p->why, "gnuplot failed on %s/%s.gp (see %s)", j.dir, j.name, log);
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
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(p->why, sizeof p->why, "%s: %s", path, strerror(errno));
        p->failed++;
        return -1;
    }
    int const cairo = strcmp(p->png_term, "pngcairo") == 0;
    fprintf(f, "# %s.gp - written by malloc-report; `gnuplot %s.gp` redraws %s.png and %s.svg\n",
            name, name, name, name);
    fprintf(f, "set terminal %s size %d,%d %s font '%s,10' background rgb 'white'\n",
            p->png_term, width, height, cairo ? "enhanced" : "", cairo ? "DejaVu Sans" : "");
    fprintf(f, "set output '%s.png'\n%s%s\n", name, style, body);
    fprintf(f, "set terminal svg size %d,%d dynamic enhanced font 'DejaVu Sans,10' background rgb 'white'\n"
               "set output '%s.svg'\nreplot\nunset output\n", width, height, name);
    if (fclose(f) != 0) {
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
    pid_t const pid = spawn_gnuplot(p->gnuplot, dir, script, log);
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
