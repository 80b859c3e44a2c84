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

/* A line-oriented input with its name for messages. */
typedef struct text_src_s {
    FILE *f;
    const char *name;
    unsigned long line;
    char *buf; size_t cap;
} text_src_t;

/* Reads the next line into src->buf (newline removed); 0 at end. */
int text_next_line(text_src_t *src);

/* Imports our text form / an mtrace() log from src into a new trace at out.
 * On error prints nothing: fills msg ("LINE: what") and returns -1. */
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

/* 1 if the line looks like an mtrace() log line. */
int mtrace_line(const char *line);

#endif
