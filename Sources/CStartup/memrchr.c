#define _GNU_SOURCE
#include <string.h>
#include "CStartup.h"

void *chathooks_memrchr(const void *s, int c, size_t n) {
    return memrchr(s, c, n);
}

void *chathooks_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len) {
    return memmem(haystack, haystack_len, needle, needle_len);
}
