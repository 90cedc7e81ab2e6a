// libsodium (Debian: libsodium-dev), linked statically into `chathooks` only (the console):
// random session tokens (randombytes_buf), their stored hashes (crypto_generichash, BLAKE2b)
// and constant-time comparison (sodium_memcmp). No receiver links it.
#include <sodium.h>
