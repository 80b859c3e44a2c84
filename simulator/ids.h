/* ids.h - per-object arrays of the models, indexed by the driver's dense ids
 * (internal to the simulator). */
#ifndef SIM_IDS_H
#define SIM_IDS_H

#include <stdint.h>
#include <stdlib.h>

/* Makes *arr hold at least id + 1 elements of elem bytes (new ones zeroed).
 * Returns 0, or -1 when out of memory (*arr unchanged). */
static inline int ids_fit(void **arr, uint64_t *cap, uint32_t id, size_t elem)
{
    if (__builtin_expect(id < *cap, 1))
        return 0;
    uint64_t n = *cap ? *cap : 1024;
    while (n <= id)
        n *= 2;
    char *p = (char *)realloc(*arr, n * elem);
    if (!p)
        return -1;
    for (size_t i = *cap * elem; i < n * elem; i++)
        p[i] = 0;
    *arr = p;
    *cap = n;
    return 0;
}

#endif /* SIM_IDS_H */
