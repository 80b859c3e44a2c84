/* dep.c - the library needsdep.c needs, out of ld.so's reach at run time */
int rp_dep_value(void);
int rp_dep_value(void) { return 1; }
