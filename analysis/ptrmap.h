/* ptrmap.h - live objects by address (internal to malloc-report). */
#ifndef RP_PTRMAP_H
#define RP_PTRMAP_H

#include "report.h"

/* The object at ptr, or NULL. The pointer stays valid until the next insert or remove. */
rp_obj_t *rp_ptrmap_find(const rp_ptrmap_t *m, uint64_t ptr);
/* The slot for ptr (zeroed but for ptr if new; *existed tells). NULL when out of memory. */
rp_obj_t *rp_ptrmap_insert(rp_ptrmap_t *m, uint64_t ptr, int *existed);
/* Removes o, a pointer returned by find or insert. */
void rp_ptrmap_remove(rp_ptrmap_t *m, rp_obj_t *o);
void rp_ptrmap_free(rp_ptrmap_t *m);

#endif
