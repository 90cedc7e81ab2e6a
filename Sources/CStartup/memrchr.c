#define _GNU_SOURCE
#include <string.h>
#include "CStartup.h"

void *chathooks_memrchr(const void *s, int c, size_t n) {
    return memrchr(s, c, n);
}
