/* Stub for a compile-only check of the macOS target without Apple's SDK. */
#define assert(x) ((void)0)
