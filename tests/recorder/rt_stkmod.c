/* rt_stkmod - a module rt_stacks loads, calls and unloads, in two variants
 * built from this file (VARIANT 0 and 1: other code at the same addresses
 * once the first is unloaded and the second loaded in its place). */
#define NOINLINE __attribute__((noinline))
#define KEEP __asm__ volatile("" ::: "memory")
#define EXPORT __attribute__((visibility("default")))

#if VARIANT
EXPORT NOINLINE void mod_pad(void (*leaf)(void)) { /* moves the functions below */
    leaf();
    leaf();
    KEEP;
}
NOINLINE static void mod_mid(void (*leaf)(void)) {
    volatile char b[48];
    b[0] = 1;
    leaf();
    KEEP;
}
#else
NOINLINE static void mod_mid(void (*leaf)(void)) {
    leaf();
    KEEP;
}
#endif

EXPORT NOINLINE void mod_call(void (*leaf)(void)) {
    mod_mid(leaf);
    KEEP;
}
