/* See hook.h. Checks the fields the chathooks receivers check for chat-message
 * and chat-end (chat_id, event_date, visitor_id, the page fields, msg_type,
 * post_date, start_date, end_date, chat_detail), then journals the event as
 * chathooks does: one JSON line, open(O_APPEND) + flock + one write (+ fsync). */
#define _GNU_SOURCE
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void hook_settings_load(struct hook_settings *s) {
    const char *v;
    s->journal = getenv("HOOK_JOURNAL");
    if (!s->journal) s->journal = "data/journal.jsonl";
    v = getenv("HOOK_FSYNC");
    s->fsync = v && strcmp(v, "1") == 0;
    s->token = getenv("HOOK_TOKEN");
    v = getenv("HOOK_MAX_BODY");
    s->max_body = v ? atol(v) : 1048576;
}

/* ---- the answer ---------------------------------------------------------- */

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

static size_t answer(char *out, size_t outsize, int status, const char *body) {
    int n = snprintf(out, outsize,
                     "Status: %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     status, reason(status), strlen(body), body);
    return n < 0 ? 0 : (size_t)n >= outsize ? outsize - 1 : (size_t)n;
}

static size_t refuse(char *out, size_t outsize, int status, const char *code, const char *message) {
    json_t *m = json_string(message);
    char *quoted = m ? json_dumps(m, JSON_ENCODE_ANY) : NULL;
    char body[768];
    snprintf(body, sizeof body, "{\"ok\":false,\"error\":\"%s\",\"message\":%s}\n", code,
             quoted ? quoted : "\"\"");
    free(quoted);
    json_decref(m);
    return answer(out, outsize, status, body);
}

/* ---- field checks ---------------------------------------------------------- */

/* yyyy/MM/dd HH:mm:ss, and a real date (no 2020/02/30). */
static int is_date(const char *s, size_t n) {
    static const int pos[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
    if (n != 19 || s[4] != '/' || s[7] != '/' || s[10] != ' ' || s[13] != ':' || s[16] != ':') return 0;
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (s[pos[i]] < '0' || s[pos[i]] > '9') return 0;
#define NUM2(i) ((s[i] - '0') * 10 + (s[i + 1] - '0'))
    int year = NUM2(0) * 100 + NUM2(2), month = NUM2(5), day = NUM2(8);
    int hour = NUM2(11), minute = NUM2(14), second = NUM2(17);
#undef NUM2
    if (year < 1970 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || day < 1) return 0;
    int days = 31;
    if (month == 2) days = ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0) ? 29 : 28;
    else if (month == 4 || month == 6 || month == 9 || month == 11) days = 30;
    return day <= days;
}

/* The problem with a payload, written into err; 0 when there is none. */
struct check {
    char *err;
    size_t errsize;
};

static int problem(struct check *c, const char *path, const char *key, const char *what) {
    snprintf(c->err, c->errsize, "%s%s%s: %s", path, *path ? "." : "", key, what);
    return 1;
}

/* A member, NULL when missing or null. */
static json_t *member(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

static int check_string(struct check *c, json_t *o, const char *path, const char *key) {
    json_t *v = member(o, key);
    if (v && !json_is_string(v)) return problem(c, path, key, "must be a string");
    return 0;
}

static int check_date(struct check *c, json_t *o, const char *path, const char *key, int required) {
    json_t *v = member(o, key);
    if (!v) return required ? problem(c, path, key, "is required") : 0;
    if (!json_is_string(v)) return problem(c, path, key, "must be a string");
    if (!is_date(json_string_value(v), json_string_length(v)))
        return problem(c, path, key, "must be a date as yyyy/MM/dd HH:mm:ss");
    return 0;
}

/* An id: a non-empty string or a whole number. */
static int check_id(struct check *c, json_t *o, const char *path, const char *key, int required) {
    json_t *v = member(o, key);
    if (!v) return required ? problem(c, path, key, "is required") : 0;
    if (json_is_integer(v)) return 0;
    if (!json_is_string(v)) return problem(c, path, key, "must be a string or a whole number");
    if (json_string_length(v) == 0) return problem(c, path, key, "must not be empty");
    return 0;
}

/* msg_type, trimmed of spaces and tabs: staff, visitor or system. */
static int check_msg_type(struct check *c, json_t *o, const char *path) {
    json_t *v = member(o, "msg_type");
    if (!v) return 0;
    if (!json_is_string(v)) return problem(c, path, "msg_type", "must be a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if ((n == 5 && !memcmp(s, "staff", 5)) || (n == 7 && !memcmp(s, "visitor", 7)) ||
        (n == 6 && !memcmp(s, "system", 6)))
        return 0;
    return problem(c, path, "msg_type", "must be staff, visitor or system");
}

static int check_message(struct check *c, json_t *o, const char *path) {
    return check_msg_type(c, o, path) || check_string(c, o, path, "post_user") ||
           check_date(c, o, path, "post_date", 0) || check_string(c, o, path, "msg");
}

static int check_payload(struct check *c, json_t *p, int chat_end) {
    if (check_date(c, p, "", "event_date", 1) || check_id(c, p, "", "chat_id", 1) ||
        check_id(c, p, "", "visitor_id", 0) || check_string(c, p, "", "visitor_key") ||
        check_string(c, p, "", "page_url") || check_string(c, p, "", "page_title"))
        return 1;
    if (!chat_end) return check_message(c, p, "");
    if (check_date(c, p, "", "start_date", 0) || check_date(c, p, "", "end_date", 0)) return 1;
    json_t *detail = member(p, "chat_detail");
    if (!detail) return 0;
    if (!json_is_array(detail)) return problem(c, "", "chat_detail", "must be an array");
    size_t i;
    json_t *m;
    char path[48];
    json_array_foreach(detail, i, m) {
        snprintf(path, sizeof path, "chat_detail[%zu]", i);
        if (!json_is_object(m)) {
            snprintf(c->err, c->errsize, "%s: must be an object", path);
            return 1;
        }
        if (check_message(c, m, path)) return 1;
    }
    return 0;
}

/* ---- the journal --------------------------------------------------------- */

/* A ULID: 48 bits of milliseconds, 80 random bits, Crockford base 32. */
static void request_id(char out[27], long long ms) {
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned char r[10];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) memset(r, 0, sizeof r);
    unsigned __int128 v = (unsigned __int128)(unsigned long long)ms << 80;
    for (int i = 0; i < 10; i++) v |= (unsigned __int128)r[i] << (8 * (9 - i));
    for (int i = 25; i >= 0; i--, v >>= 5) out[i] = alphabet[(unsigned)(v & 31)];
    out[26] = 0;
}

/* 2026-11-22T22:10:05.123+09:00 (local time). */
static void rfc3339(char out[64], const struct timespec *ts) {
    struct tm t;
    localtime_r(&ts->tv_sec, &t);
    int off = (int)(t.tm_gmtoff < 0 ? -t.tm_gmtoff : t.tm_gmtoff) % 86400;
    int ms = (int)(ts->tv_nsec / 1000000) % 1000;
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d", (t.tm_year + 1900) % 10000,
             t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms, t.tm_gmtoff < 0 ? '-' : '+',
             off / 3600, off % 3600 / 60);
}

/* One whole line, never interleaved, never half-written; 0 or -1. */
int hook_append_line(const char *path, const char *line, size_t n, int do_fsync) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return -1;
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) goto fail;
    struct stat st;
    if (fstat(fd, &st) != 0) goto fail;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, line + done, n - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            goto cut;
        }
        done += (size_t)w;
    }
    if (do_fsync && fsync(fd) != 0) goto cut;
    close(fd); /* releases the lock */
    return 0;
cut:
    if (ftruncate(fd, st.st_size) != 0) { /* nothing more to do */ }
fail:
    close(fd);
    return -1;
}

/* ---- one request --------------------------------------------------------- */

static int same_token(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = na != nb;
    for (size_t i = 0; i < na; i++) d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return d == 0;
}

size_t hook_handle(const struct hook_settings *s, hook_param_fn param, void *pctx,
                   hook_read_fn read_body, void *rctx, char *out, size_t outsize) {
    /* The event is the last segment of the path (/hooks/chatdealer/chat-end). */
    const char *script = param(pctx, "SCRIPT_NAME");
    const char *event = script ? strrchr(script, '/') : NULL;
    event = event ? event + 1 : script ? script : "";
    int chat_end;
    if (!strcmp(event, "chat-end")) chat_end = 1;
    else if (!strcmp(event, "chat-message")) chat_end = 0;
    else return refuse(out, outsize, 404, "not_found", "no receiver at this path");

    const char *method = param(pctx, "REQUEST_METHOD");
    if (!method || strcmp(method, "POST")) return refuse(out, outsize, 405, "method_not_allowed", "only POST is accepted");
    if (!s->token || !*s->token) return refuse(out, outsize, 503, "not_configured", "no token is configured");
    const char *token = param(pctx, "HTTP_X_CHATHOOKS_TOKEN");
    if (!token) return refuse(out, outsize, 401, "unauthorized", "the X-Chathooks-Token header is missing");
    if (!same_token(token, s->token))
        return refuse(out, outsize, 401, "unauthorized", "the X-Chathooks-Token header does not hold an accepted token");

    const char *cl = param(pctx, "CONTENT_LENGTH");
    if (!cl || !*cl) return refuse(out, outsize, 411, "length_required", "a Content-Length header is required");
    if (strspn(cl, "0123456789") != strlen(cl))
        return refuse(out, outsize, 400, "invalid_length", "Content-Length must be a number of bytes");
    if (strlen(cl) > 12 || atol(cl) > s->max_body)
        return refuse(out, outsize, 413, "body_too_large", "the body is larger than the limit");
    size_t length = (size_t)atol(cl), got = 0;
    char *body = malloc(length + 1);
    if (!body) return refuse(out, outsize, 500, "no_memory", "out of memory");
    while (got < length) {
        long n = read_body(rctx, body + got, length - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got != length) {
        free(body);
        return refuse(out, outsize, 400, "truncated_body", "the body ended before Content-Length bytes");
    }

    json_error_t jerr;
    json_t *payload = json_loadb(body, length, 0, &jerr);
    free(body);
    if (!payload) return refuse(out, outsize, 400, "invalid_json", jerr.text);
    if (!json_is_object(payload) || json_object_size(payload) == 0) {
        json_decref(payload);
        return refuse(out, outsize, 400, "invalid_json", "the body must be a non-empty JSON object");
    }
    char err[256];
    struct check c = {err, sizeof err};
    if (check_payload(&c, payload, chat_end)) {
        json_decref(payload);
        return refuse(out, outsize, 400, "invalid_field", err);
    }

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char at[64], id[27];
    rfc3339(at, &now);
    request_id(id, (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    const char *remote = param(pctx, "REMOTE_ADDR");
    json_t *record = json_object();
    json_object_set_new(record, "received_at", json_string(at));
    json_object_set_new(record, "source", json_string("chatdealer"));
    json_object_set_new(record, "event", json_string(chat_end ? "chat-end" : "chat-message"));
    json_object_set_new(record, "request_id", json_string(id));
    json_object_set_new(record, "remote_addr", json_string(remote ? remote : ""));
    json_object_set_new(record, "payload", payload);
    char *line = json_dumps(record, JSON_COMPACT);
    json_decref(record);
    size_t n = line ? strlen(line) : 0;
    char *full = line ? realloc(line, n + 2) : NULL;
    if (!full) {
        free(line);
        return refuse(out, outsize, 500, "journal_failed", "the event could not be written to the journal");
    }
    full[n] = '\n';
    full[n + 1] = 0;
    int failed = hook_append_line(s->journal, full, n + 1, s->fsync);
    free(full);
    if (failed) return refuse(out, outsize, 500, "journal_failed", "the event could not be written to the journal");

    char reply[64];
    snprintf(reply, sizeof reply, "{\"ok\":true,\"id\":\"%s\"}\n", id);
    return answer(out, outsize, 200, reply);
}
