/* text.h - malloc-trace's text forms: the dump line (FORMAT.md section 6)
 * and the two importers (our text form and glibc's mtrace() log). */
#ifndef TRACE_TEXT_H
#define TRACE_TEXT_H

#include <stdio.h>

#include "trace.h"

/* Formats ev as one dump line, without the newline, NUL-terminated. Returns
 * the length of the whole line: when that is cap or more, buf holds only its
 * start, and a buffer of the length + 1 takes it whole (an exec path has no
 * bound). */
size_t text_format_event(char *buf, size_t cap, const tr_event_t *ev);

/* Writes the header as "# key: value" comment lines that text_import reads back. */
void text_format_header(FILE *out, const tr_header_t *h);

/* A line-oriented input with its name for messages. Read once, in order:
 * a pipe or a FIFO is as good as a file. */
typedef struct text_src_s {
    FILE *f;
    const char *name;
    unsigned long line;
    char *buf; size_t cap;
    int cut;         /* the line read ends the input without its newline */
    int again;       /* set by the caller: the next text_next_line gives the same line */
    const char *bad; /* why text_next_line returned -1 */
} text_src_t;

#define TEXT_LINE_MAX (1u << 20) /* longer lines are no text (a header line needs 384 KiB at most) */

/* Reads the next line into src->buf (newline and CRs before it removed):
 * 1, 0 at the end (or a read error: ferror), -1 for a line that is no text
 * (a NUL byte, longer than TEXT_LINE_MAX), src->bad telling. */
int text_next_line(text_src_t *src);

/* 1 if the last line read is cut (the input ends inside it) and not blank:
 * an importer takes what came before it, not a line that may read as
 * another value (a pointer cut short is still hex), when the line begins as
 * one of its lines does (else it is no such text, an error of its own). */
int text_cut(const text_src_t *src);

/* Imports our text form / an mtrace() log from src into a new trace at out.
 * On error prints nothing: fills msg ("LINE: what") and returns -1. For an
 * input cut short (text_cut) writes the events before the cut, as a trace
 * without END, fills msg and returns 1. */
int text_import(text_src_t *src, const char *out, char *msg, size_t msgcap);
int mtrace_import(text_src_t *src, const char *out, char *msg, size_t msgcap);

/* Opens the trace an importer writes: the file out, or standard output for
 * "-". NULL with *err filled on failure. */
tr_writer_t *text_open_out(const char *out, const tr_header_t *h, tr_error_t *err);

/* Fills msg for a failed tr_writer_event: "OUT: what" for a write error
 * (the output's fault), "line N: what" otherwise. Returns -1. */
int text_write_fail(char *msg, size_t cap, unsigned long line, const char *out, const tr_writer_t *w);

/* Fills msg with "line N: " and the message; returns -1. */
int text_fail(char *msg, size_t cap, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills msg for an input cut inside line (text_cut); returns 1. */
int text_cut_msg(char *msg, size_t cap, unsigned long line);

/* 1 if the line looks like an mtrace() log line. */
int mtrace_line(const char *line);

#endif
