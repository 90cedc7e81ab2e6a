// libxcrypt (Debian: libcrypt-dev). Only crypt_r is used: it is reentrant and
// keeps its state in a caller-owned struct, so nothing is shared between calls.
#include <crypt.h>
