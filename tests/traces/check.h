/* check.h - the checks of the traces library's unit tests: CHECK(cond,
 * fmt, ...) counts and reports a failed condition and goes on; main returns
 * failures != 0. */
#ifndef TESTS_TRACES_CHECK_H
#define TESTS_TRACES_CHECK_H
#include <stdio.h>

static int failures;
#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
        }                                                                        \
    } while (0)

#endif
