/* test_json.c - malloc-report's JSON reader: values, escapes, paths, and
 * every kind of bad input refused with an offset, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static int failed;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); failed++; } } while (0)

static void bad(const char *text, const char *want) {
    char err[200] = "";
    rj_t *v = rj_parse(text, err, sizeof err);
    CHECK(v == NULL);
    if (v) { fprintf(stderr, "accepted: %s\n", text); rj_free(v); return; }
    if (!strstr(err, want)) { fprintf(stderr, "for %s: got '%s', wanted '%s'\n", text, err, want); failed++; }
}

int main(void) {
    char err[200];
    const char *doc =
        "{\"trace\": \"t.zst\", \"events\": 123, \"runs\": [ {\"allocator\": \"glibc\", \"library\": null,"
        " \"ns_per_op\": 1.5e1, \"ok\": true, \"latency_ns\": {\"malloc\": {\"p50\": -2, \"p99\": 0.25}}},"
        " {\"allocator\": \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\n\"} ], \"empty\": {}, \"none\": []}";
    rj_t *v = rj_parse(doc, err, sizeof err);
    CHECK(v != NULL);
    if (!v) { fprintf(stderr, "%s\n", err); return 1; }
    CHECK(rj_num(rj_get(v, "events"), 0) == 123);
    CHECK(strcmp(rj_str(rj_get(v, "trace"), ""), "t.zst") == 0);
    const rj_t *runs = rj_get(v, "runs");
    CHECK(runs && runs->type == RJ_ARR && runs->len == 2);
    const rj_t *r0 = runs->child, *r1 = r0->next;
    CHECK(rj_num(rj_get(r0, "ns_per_op"), 0) == 15);
    CHECK(rj_num(rj_get(r0, "ok"), 0) == 1);
    CHECK(rj_get(r0, "library")->type == RJ_NULL);
    CHECK(rj_num(rj_path(r0, "latency_ns.malloc.p50"), 0) == -2);
    CHECK(rj_num(rj_path(r0, "latency_ns.malloc.p99"), 0) == 0.25);
    CHECK(rj_path(r0, "latency_ns.free.p50") == NULL);
    CHECK(rj_num(rj_path(r0, "latency_ns.missing"), 7) == 7);
    CHECK(strcmp(rj_str(rj_get(r1, "allocator"), ""), "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
    CHECK(rj_get(v, "empty")->len == 0 && rj_get(v, "none")->len == 0);
    CHECK(rj_str(rj_get(v, "events"), "dflt")[0] == 'd');
    rj_free(v);

    bad("", "offset 0: unexpected end of input");
    bad("{\"a\": 1,}", "offset 8: expected a member name");
    bad("[1 2]", "offset 3: expected ',' or ']'");
    bad("{\"a\" 1}", "offset 5: expected ':'");
    bad("\"abc", "unterminated string");
    bad("\"a\\qb\"", "offset 2: bad escape");
    bad("\"\\u12G4\"", "bad \\u escape");
    bad("\"a\tb\"", "control character");
    bad("{} x", "offset 3: trailing characters");
    bad("tru", "unexpected character");
    bad("-", "bad number");
    char deep[1000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    bad(deep, "nested too deeply");

    /* every prefix of a valid document is refused cleanly (no crash, no leak under ASan) */
    size_t const n = strlen(doc);
    char *buf = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, doc, i);
        buf[i] = 0;
        rj_t *p = rj_parse(buf, err, sizeof err);
        CHECK(p == NULL);
        rj_free(p);
    }
    free(buf);
    CHECK(rj_parse_file("/nonexistent/x.json", err, sizeof err) == NULL && strstr(err, "/nonexistent/x.json: "));
    if (failed) { fprintf(stderr, "%d check(s) failed\n", failed); return 1; }
    printf("ok\n");
    return 0;
}
