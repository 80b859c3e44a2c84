/* handtrace.c - a hand-written text trace with call stacks -> a trace.
 *
 * malloc-trace import reads the text form (FORMAT.md section 6), which has
 * no stacks or modules. This tool adds them: in IN.txt,
 *   #! module BIAS START SIZE PATH     a module map entry (hex numbers)
 *   #! stack ID PC PC ...              a stack, innermost first (hex pcs)
 *   ... event line ... @ID             the event's stack id
 *   ... realloc line ... ^SEQ          the realloc's release seq (FORMAT.md
 *                                      section 5; the text form has none)
 * It writes the text without the "@ID" marks, imports it with MALLOC_TRACE,
 * then copies that trace into OUT adding the modules, stacks and ids.
 *
 * usage: handtrace MALLOC_TRACE IN.txt OUT.zst */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace.h"

#define MAXN 4096

static struct { uint64_t seq; uint32_t id; } marks[MAXN];
static size_t nmarks;
static struct { uint64_t seq, release_seq; } rels[MAXN];
static size_t nrels;
static struct { uint32_t id, n; uint64_t pcs[64]; } stacks[256];
static size_t nstacks;
static struct { uint64_t bias, start, size; char path[512]; } mods[32];
static size_t nmods;

static int die(const char *msg, const char *arg) {
    fprintf(stderr, "handtrace: %s%s\n", msg, arg ? arg : "");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) return die("usage: handtrace MALLOC_TRACE IN.txt OUT.zst", NULL);
    char tmp_txt[4096], tmp_zst[4096];
    snprintf(tmp_txt, sizeof tmp_txt, "%s.plain.txt", argv[3]);
    snprintf(tmp_zst, sizeof tmp_zst, "%s.plain.zst", argv[3]);
    FILE *in = fopen(argv[2], "r"), *out = fopen(tmp_txt, "w");
    if (!in || !out) return die("cannot open ", argv[2]);
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "#! module ", 10) == 0 && nmods < 32) {
            if (sscanf(line + 10, "%lx %lx %lx %511s", &mods[nmods].bias, &mods[nmods].start,
                       &mods[nmods].size, mods[nmods].path) != 4)
                return die("bad module line: ", line);
            nmods++;
            continue;
        }
        if (strncmp(line, "#! stack ", 9) == 0 && nstacks < 256) {
            char *p = line + 9, *end;
            stacks[nstacks].id = (uint32_t)strtoul(p, &end, 10);
            for (p = end; stacks[nstacks].n < 64; p = end) {
                uint64_t const pc = strtoull(p, &end, 16);
                if (end == p) break;
                stacks[nstacks].pcs[stacks[nstacks].n++] = pc;
            }
            nstacks++;
            continue;
        }
        char *rel = line[0] != '#' ? strchr(line, '^') : NULL, *at = line[0] != '#' ? strchr(line, '@') : NULL;
        if (rel && nrels < MAXN) {
            rels[nrels].seq = strtoull(line, NULL, 10);
            rels[nrels].release_seq = strtoull(rel + 1, NULL, 10);
            nrels++;
        }
        if (at && nmarks < MAXN) {
            marks[nmarks].seq = strtoull(line, NULL, 10);
            marks[nmarks].id = (uint32_t)strtoul(at + 1, NULL, 10);
            nmarks++;
        }
        char *cut = rel && (!at || rel < at) ? rel : at;
        if (cut) {
            cut[0] = '\n';
            cut[1] = 0;
        }
        fputs(line, out);
    }
    fclose(in);
    fclose(out);
    pid_t const pid = fork();
    if (pid == 0) {
        execl(argv[1], argv[1], "import", tmp_txt, "-o", tmp_zst, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return die("import failed for ", tmp_txt);
    tr_error_t err;
    tr_reader_t *r = tr_reader_open(tmp_zst, &err);
    if (!r) return die(err.msg, NULL);
    tr_writer_t *w = tr_writer_open(argv[3], tr_reader_header(r), NULL, &err);
    if (!w) return die(err.msg, NULL);
    for (size_t i = 0; i < nmods; i++) {
        tr_module_t m = { .bias = mods[i].bias, .start = mods[i].start, .size = mods[i].size, .path = mods[i].path };
        tr_writer_module(w, &m);
    }
    for (size_t i = 0; i < nstacks; i++) tr_writer_stack(w, stacks[i].id, stacks[i].pcs, stacks[i].n);
    tr_event_t ev;
    int rc;
    while ((rc = tr_reader_next(r, &ev)) > 0) {
        for (size_t i = 0; i < nmarks; i++)
            if (marks[i].seq == ev.seq) ev.stack = marks[i].id;
        for (size_t i = 0; i < nrels; i++)
            if (rels[i].seq == ev.seq) ev.release_seq = rels[i].release_seq;
        if (tr_writer_event(w, &ev) < 0) return die("write failed", NULL);
    }
    if (rc < 0) return die(tr_reader_error(r)->msg, NULL);
    const tr_end_t *end = tr_reader_end(r);
    tr_end_t e = end ? *end : (tr_end_t){ .reason = TR_END_CLOSED };
    if (tr_writer_close(w, &e, &err) < 0) return die(err.msg, NULL);
    tr_reader_close(r);
    unlink(tmp_txt);
    unlink(tmp_zst);
    return 0;
}
