/* The job a chathooks Chat Dealer receiver does, in C: the practical floor the
 * benchmark compares chathooks with. Shared by the CGI program (cgi.c) and the
 * libfcgi responder (fcgi.c).
 *
 * Settings come from the process environment (a C program would hard-code
 * them; chathooks reads a JSON5 file instead):
 *   HOOK_JOURNAL   the journal file (JSON Lines)
 *   HOOK_FSYNC     "1" to fsync each line before answering (default 0)
 *   HOOK_TOKEN     the accepted X-Chathooks-Token
 *   HOOK_MAX_BODY  the body limit in bytes (default 1048576)
 */
#ifndef HOOK_H
#define HOOK_H
#include <stddef.h>

/* A CGI meta-variable by name (REQUEST_METHOD, HTTP_X_CHATHOOKS_TOKEN, ...), or NULL. */
typedef const char *(*hook_param_fn)(void *ctx, const char *name);
/* Reads up to n body bytes; returns how many (0 at the end), or -1. */
typedef long (*hook_read_fn)(void *ctx, char *buf, size_t n);

struct hook_settings {
    const char *journal;
    int fsync;
    const char *token;
    long max_body;
};

/* Reads the settings from the environment (once per process). */
void hook_settings_load(struct hook_settings *s);

/* Handles one request; writes the CGI response (Status line, headers, body)
 * into out (at least 1024 bytes) and returns its length. */
size_t hook_handle(const struct hook_settings *s, hook_param_fn param, void *pctx,
                   hook_read_fn read_body, void *rctx, char *out, size_t outsize);

/* Appends one whole line (newline included) to the journal at path: open with
 * O_APPEND, flock, one write, fsync when asked, close. 0, or -1 with errno. */
int hook_append_line(const char *path, const char *line, size_t n, int do_fsync);

#endif
