/*
 * auth.c: access keys (credentials file, environment), the listen-address
 * rule, and SigV4 verification of requests with AWS's error shapes.
 */
#include "common/base.h"

#include "server/auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

struct auth_key {
    char *access_key_id;
    char *secret;
    char *session_token; /* NULL: none required */
    char *origin;        /* "FILE:LINE" or "environment" */
};

/*
 * Derived signing keys, so that a request costs one HMAC for the signature
 * instead of five. Keyed by (key, scope date, region); the service is always
 * AUTH_SERVICE. Small and round-robin: a date or region change is rare.
 */
#define CACHE_SLOTS      16
#define CACHE_REGION_MAX 32
struct cache_slot {
    const struct auth_key *key; /* NULL: unused */
    char date[8];
    size_t region_len;
    char region[CACHE_REGION_MAX];
    uint8_t signing_key[32];
};

struct auth_cache {
    pthread_mutex_t mu;
    struct cache_slot slots[CACHE_SLOTS];
    unsigned next;
};

struct auth_keys {
    struct auth_key *keys;
    size_t n, alloc;
    char *region;             /* NULL: any */
    struct auth_cache *cache; /* behind a pointer: verification is logically const */
};

/* ---- key set ---- */

struct auth_keys *auth_keys_new(void)
{
    struct auth_keys *k = xcalloc(1, sizeof(*k));
    k->cache = xcalloc(1, sizeof(*k->cache));
    pthread_mutex_init(&k->cache->mu, NULL);
    return k;
}

static void free_secret(char *s)
{
    if (!s) return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void auth_keys_free(struct auth_keys *keys)
{
    if (!keys) return;
    for (size_t i = 0; i < keys->n; i++) {
        free(keys->keys[i].access_key_id);
        free_secret(keys->keys[i].secret);
        free_secret(keys->keys[i].session_token);
        free(keys->keys[i].origin);
    }
    free(keys->keys);
    free(keys->region);
    pthread_mutex_destroy(&keys->cache->mu);
    OPENSSL_cleanse(keys->cache, sizeof(*keys->cache));
    free(keys->cache);
    free(keys);
}

size_t auth_keys_count(const struct auth_keys *keys)
{
    return keys ? keys->n : 0;
}

void auth_keys_set_region(struct auth_keys *keys, const char *region)
{
    free(keys->region);
    keys->region = region && *region ? xstrdup(region) : NULL;
}

static const struct auth_key *find_key(const struct auth_keys *keys, struct sigv4_slice id)
{
    for (size_t i = 0; i < keys->n; i++) {
        const char *k = keys->keys[i].access_key_id;
        if (strlen(k) == id.n && memcmp(k, id.p, id.n) == 0) return &keys->keys[i];
    }
    return NULL;
}

/* Printable ASCII without space; 'extra_banned' lists more characters to refuse. */
static const char *bad_char(const char *s, const char *extra_banned)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 127 || strchr(extra_banned, *p))
            return p;
    return NULL;
}

enum rc auth_keys_add(struct auth_keys *keys, const char *access_key_id, const char *secret,
                      const char *session_token, const char *origin, struct err *e)
{
    const char *bad;
    if (!*access_key_id) return err_set(e, RC_INVALID_INPUT, "aws_access_key_id is empty");
    if ((bad = bad_char(access_key_id, "/,=;")))
        return err_set(
            e, RC_INVALID_INPUT,
            "aws_access_key_id '%.64s' has character 0x%02x at offset %zu; it must be printable ASCII without spaces, '/', ',', '=' or ';'",
            access_key_id, (unsigned char)*bad, (size_t)(bad - access_key_id));
    if (!*secret) return err_set(e, RC_INVALID_INPUT, "aws_secret_access_key is empty");
    if (strlen(secret) > 1024)
        return err_set(e, RC_INVALID_INPUT, "aws_secret_access_key is longer than 1024 characters");
    if ((bad = bad_char(secret, "")))
        return err_set(
            e, RC_INVALID_INPUT,
            "aws_secret_access_key has character 0x%02x at offset %zu; it must be printable ASCII without spaces",
            (unsigned char)*bad, (size_t)(bad - secret));
    if (session_token && (bad = bad_char(session_token, "")))
        return err_set(
            e, RC_INVALID_INPUT,
            "aws_session_token has character 0x%02x at offset %zu; it must be printable ASCII without spaces",
            (unsigned char)*bad, (size_t)(bad - session_token));
    struct sigv4_slice id = {access_key_id, strlen(access_key_id)};
    const struct auth_key *old = find_key(keys, id);
    if (old) {
        bool same =
            strcmp(old->secret, secret) == 0 &&
            (old->session_token ? session_token && !strcmp(old->session_token, session_token)
                                : !session_token);
        if (same) return RC_OK; /* the same key from two sources */
        return err_set(e, RC_ALREADY_EXISTS,
                       "access key id '%s' is already configured with a different secret (%s)",
                       access_key_id, old->origin);
    }
    if (keys->n == keys->alloc) {
        keys->alloc = keys->alloc ? 2 * keys->alloc : 4;
        keys->keys = xreallocarray(keys->keys, keys->alloc, sizeof(*keys->keys));
    }
    /* Growing moved the keys: forget cached pointers to them. */
    pthread_mutex_lock(&keys->cache->mu);
    memset(keys->cache->slots, 0, sizeof(keys->cache->slots));
    pthread_mutex_unlock(&keys->cache->mu);
    struct auth_key *k = &keys->keys[keys->n++];
    k->access_key_id = xstrdup(access_key_id);
    k->secret = xstrdup(secret);
    k->session_token = session_token ? xstrdup(session_token) : NULL;
    k->origin = xstrdup(origin ? origin : "?");
    return RC_OK;
}

/* ---- credentials file ---- */

/* One [profile] being read. Values point into the caller's line copies. */
struct profile {
    char *name; /* NULL: before the first section */
    size_t line;
    char *id, *secret, *token;
    size_t id_line, secret_line, token_line;
};

static void profile_reset(struct profile *p)
{
    free(p->name);
    free(p->id);
    free_secret(p->secret);
    free_secret(p->token);
    memset(p, 0, sizeof(*p));
}

static enum rc profile_finish(struct auth_keys *keys, struct profile *p, const char *filename,
                              struct err *e)
{
    if (!p->name) return RC_OK;
    if (!p->id || !p->secret)
        return err_set(e, RC_PARSE, "%s:%zu: profile [%s] has no %s", filename, p->line, p->name,
                       !p->id ? "aws_access_key_id" : "aws_secret_access_key");
    char origin[512];
    snprintf(origin, sizeof(origin), "%s:%zu", filename, p->id_line);
    enum rc rc = auth_keys_add(keys, p->id, p->secret, p->token, origin, e);
    if (rc) return err_prefix(e, "%s:%zu: profile [%s]: ", filename, p->line, p->name);
    return RC_OK;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

/* Profile names seen so far, to refuse a repeated one (configparser does too). */
struct seen {
    char **names;
    size_t *lines;
    size_t n;
};

static enum rc parse_line(struct auth_keys *keys, struct profile *p, struct seen *seen,
                          const char *filename, size_t lineno, const char *line, size_t len,
                          struct err *e)
{
    char *t = trim_dup(line, len);
    enum rc rc = RC_OK;
    size_t tl = strlen(t);
    if (tl != len && memchr(line, '\0', len)) {
        rc = err_set(e, RC_PARSE, "%s:%zu: NUL byte in the line", filename, lineno);
    } else if (tl == 0 || t[0] == '#' || t[0] == ';') {
        /* blank or comment */
    } else if (t[0] == '[') {
        char *close = strchr(t, ']');
        char *name = close ? trim_dup(t + 1, (size_t)(close - t - 1)) : NULL;
        if (!close || close[1] != '\0' || !*name) {
            rc = err_set(e, RC_PARSE,
                         "%s:%zu: malformed section header '%.100s' (expected [profile-name])",
                         filename, lineno, t);
            free(name);
        } else {
            for (size_t i = 0; i < seen->n && !rc; i++)
                if (strcmp(seen->names[i], name) == 0)
                    rc = err_set(e, RC_PARSE,
                                 "%s:%zu: profile [%s] appears twice (first at line %zu)", filename,
                                 lineno, name, seen->lines[i]);
            if (!rc) rc = profile_finish(keys, p, filename, e);
            if (rc) {
                free(name);
            } else {
                profile_reset(p);
                p->name = name;
                p->line = lineno;
                seen->names = xreallocarray(seen->names, seen->n + 1, sizeof(char *));
                seen->lines = xreallocarray(seen->lines, seen->n + 1, sizeof(size_t));
                seen->names[seen->n] = xstrdup(name);
                seen->lines[seen->n++] = lineno;
            }
        }
    } else {
        char *eq = strchr(t, '=');
        if (!eq) {
            rc =
                err_set(e, RC_PARSE, "%s:%zu: expected 'name = value' or '[profile]', got '%.100s'",
                        filename, lineno, t);
        } else if (!p->name) {
            rc = err_set(e, RC_PARSE, "%s:%zu: setting before the first [profile] section",
                         filename, lineno);
        } else {
            char *name = trim_dup(t, (size_t)(eq - t));
            char *value = trim_dup(eq + 1, strlen(eq + 1));
            char **slot = NULL;
            size_t *slot_line = NULL;
            if (!strcasecmp(name, "aws_access_key_id")) {
                slot = &p->id;
                slot_line = &p->id_line;
            } else if (!strcasecmp(name, "aws_secret_access_key")) {
                slot = &p->secret;
                slot_line = &p->secret_line;
            } else if (!strcasecmp(name, "aws_session_token")) {
                slot = &p->token;
                slot_line = &p->token_line;
            } else if (!*name) {
                rc = err_set(e, RC_PARSE, "%s:%zu: setting with an empty name", filename, lineno);
            }
            if (slot && *slot) {
                rc = err_set(e, RC_PARSE,
                             "%s:%zu: %s is set twice in profile [%s] (first at line %zu)",
                             filename, lineno, name, p->name, *slot_line);
            } else if (slot && !*value) {
                rc = err_set(e, RC_PARSE, "%s:%zu: %s is empty", filename, lineno, name);
            } else if (slot) {
                *slot = value;
                *slot_line = lineno;
                value = NULL;
            }
            free(name);
            free_secret(value);
        }
    }
    free_secret(t);
    return rc;
}

enum rc auth_keys_parse_credentials(struct auth_keys *keys, const char *text, size_t len,
                                    const char *filename, struct err *e)
{
    struct profile p = {0};
    struct seen seen = {0};
    enum rc rc = RC_OK;
    size_t lineno = 0;
    for (size_t i = 0; i < len && !rc;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        rc = parse_line(keys, &p, &seen, filename, ++lineno, text + i, end - i, e);
        i = end + 1;
    }
    if (!rc) rc = profile_finish(keys, &p, filename, e);
    if (!rc && seen.n == 0)
        rc = err_set(e, RC_PARSE,
                     "%s: no [profile] section with aws_access_key_id and aws_secret_access_key",
                     filename);
    profile_reset(&p);
    for (size_t i = 0; i < seen.n; i++)
        free(seen.names[i]);
    free(seen.names);
    free(seen.lines);
    return rc;
}

#define CREDENTIALS_MAX (1024 * 1024)

enum rc auth_keys_load_file(struct auth_keys *keys, const char *path, struct err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, RC_IO, "%s: cannot open credentials file: %s", path, strerror(errno));
    char *text = xmalloc(CREDENTIALS_MAX + 1);
    size_t n = fread(text, 1, CREDENTIALS_MAX + 1, f);
    enum rc rc = RC_OK;
    if (ferror(f))
        rc = err_set(e, RC_IO, "%s: cannot read credentials file: %s", path, strerror(errno));
    else if (n > CREDENTIALS_MAX)
        rc = err_set(e, RC_LIMIT_EXCEEDED, "%s: credentials file is larger than %d bytes", path,
                     CREDENTIALS_MAX);
    fclose(f);
    if (!rc) rc = auth_keys_parse_credentials(keys, text, n, path, e);
    OPENSSL_cleanse(text, n);
    free(text);
    return rc;
}

enum rc auth_keys_load_env(struct auth_keys *keys, struct err *e)
{
    const char *id = getenv(AUTH_ENV_ACCESS_KEY);
    const char *secret = getenv(AUTH_ENV_SECRET_KEY);
    bool have_id = id && *id, have_secret = secret && *secret;
    if (!have_id && !have_secret) return RC_OK;
    if (!have_id || !have_secret)
        return err_set(e, RC_INVALID_INPUT, "%s is set but %s is not: set both or neither",
                       have_id ? AUTH_ENV_ACCESS_KEY : AUTH_ENV_SECRET_KEY,
                       have_id ? AUTH_ENV_SECRET_KEY : AUTH_ENV_ACCESS_KEY);
    enum rc rc = auth_keys_add(keys, id, secret, NULL, "environment", e);
    if (rc) return err_prefix(e, "%s/%s: ", AUTH_ENV_ACCESS_KEY, AUTH_ENV_SECRET_KEY);
    return RC_OK;
}

enum rc auth_keys_load(const char *credentials_path, const char *data_dir, struct auth_keys **out,
                       struct err *e)
{
    struct auth_keys *keys = auth_keys_new();
    enum rc rc = RC_OK;
    if (credentials_path) {
        rc = auth_keys_load_file(keys, credentials_path, e);
    } else if (data_dir) {
        char *path = xasprintf("%s/%s", data_dir, AUTH_DATA_DIR_FILE);
        struct stat st;
        if (stat(path, &st) == 0) rc = auth_keys_load_file(keys, path, e);
        free(path);
    }
    if (!rc) rc = auth_keys_load_env(keys, e);
    if (rc) {
        auth_keys_free(keys);
        return rc;
    }
    *out = keys;
    return RC_OK;
}

/* ---- listen address ---- */

bool auth_listen_is_loopback(const char *listen_addr)
{
    char host[256];
    const char *h = listen_addr, *end;
    if (*h == '[') {
        h++;
        end = strchr(h, ']');
        if (!end) return false;
    } else {
        const char *first = strchr(h, ':'), *last = strrchr(h, ':');
        end = first && first == last ? first : h + strlen(h); /* two colons: a bare IPv6 address */
    }
    size_t n = (size_t)(end - h);
    if (n == 0 || n >= sizeof(host)) return false; /* ":8080" is every interface */
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcasecmp(host, "localhost") == 0) return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return false;
}

enum rc auth_check_listen(const struct auth_keys *keys, const char *listen_addr, struct err *e)
{
    if (auth_keys_count(keys) > 0 || auth_listen_is_loopback(listen_addr)) return RC_OK;
    return err_set(
        e, RC_INVALID_INPUT,
        "refusing to listen on %s, a non-loopback address, without access keys: anyone who can reach it could call the API. Configure keys (--credentials FILE, DATA_DIR/" AUTH_DATA_DIR_FILE
        ", or " AUTH_ENV_ACCESS_KEY " and " AUTH_ENV_SECRET_KEY
        ") or listen on a loopback address such as 127.0.0.1",
        listen_addr);
}

/* ---- verification ---- */

#define MSG_MISMATCH \
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

static enum rc fail(struct auth_failure *out, int status, const char *type, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static enum rc fail(struct auth_failure *out, int status, const char *type, const char *fmt, ...)
{
    out->status = status;
    out->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    return RC_INVALID_INPUT;
}

#define INCOMPLETE(...) fail(out, 400, "IncompleteSignatureException", __VA_ARGS__)
#define INVALID(...)    fail(out, 403, "InvalidSignatureException", __VA_ARGS__)

static bool slice_is(struct sigv4_slice s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* The signing key for (key, a->date, a->region, AUTH_SERVICE), from the cache when possible. */
static void signing_key(const struct auth_keys *keys, const struct auth_key *k,
                        const struct sigv4_auth *a, uint8_t out[32])
{
    struct auth_cache *c = keys->cache;
    bool cacheable = a->region.n <= CACHE_REGION_MAX;
    if (cacheable) {
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < CACHE_SLOTS; i++) {
            struct cache_slot *s = &c->slots[i];
            if (s->key == k && memcmp(s->date, a->date.p, 8) == 0 && s->region_len == a->region.n &&
                memcmp(s->region, a->region.p, a->region.n) == 0) {
                memcpy(out, s->signing_key, 32);
                pthread_mutex_unlock(&c->mu);
                return;
            }
        }
        pthread_mutex_unlock(&c->mu);
    }
    /* Secrets are at most 1024 bytes (auth_keys_add), so this cannot fail. */
    (void)sigv4_signing_key(k->secret, a->date, a->region, a->service, out);
    if (!cacheable) return;
    pthread_mutex_lock(&c->mu);
    struct cache_slot *s = &c->slots[c->next++ % CACHE_SLOTS];
    s->key = k;
    memcpy(s->date, a->date.p, 8);
    s->region_len = a->region.n;
    memcpy(s->region, a->region.p, a->region.n);
    memcpy(s->signing_key, out, 32);
    pthread_mutex_unlock(&c->mu);
}

/* Checks in AWS's order; see auth.h for the error types. */
enum rc auth_verify_who(const struct auth_keys *keys, const struct sigv4_input *in,
                        struct auth_failure *out, const char **access_key_id)
{
    if (access_key_id) *access_key_id = NULL;
    if (auth_keys_count(keys) == 0) return RC_OK;

    size_t count;
    const char *authz = sigv4_find_header(in, "authorization", &count);
    if (count == 0)
        return fail(out, 403, "MissingAuthenticationTokenException",
                    "Missing Authentication Token");
    if (count > 1) return INCOMPLETE("The request has more than one Authorization header");
    struct sigv4_auth a;
    struct err e = ERR_INIT;
    if (sigv4_parse_authorization(authz, &a, &e)) return INCOMPLETE("%s", e.msg);

    const char *amz_date = sigv4_find_header(in, "x-amz-date", &count);
    if (count == 0)
        return INCOMPLETE("Authorization header requires existence of an 'X-Amz-Date' header");
    time_t signed_at;
    if (count > 1) return INCOMPLETE("The request has more than one X-Amz-Date header");
    if (!sigv4_parse_amz_date(amz_date, &signed_at))
        return INCOMPLETE("X-Amz-Date must be in the form YYYYMMDD'T'HHMMSS'Z', got '%.40s'",
                          amz_date);

    const struct auth_key *k = find_key(keys, a.access_key);
    if (!k)
        return fail(out, 403, "UnrecognizedClientException",
                    "The security token included in the request is invalid.");
    if (k->session_token) {
        const char *token = sigv4_find_header(in, "x-amz-security-token", &count);
        size_t tl = token ? strlen(token) : 0;
        if (!token || tl != strlen(k->session_token) ||
            CRYPTO_memcmp(token, k->session_token, tl) != 0)
            return fail(out, 403, "UnrecognizedClientException",
                        "The security token included in the request is invalid.");
    }

    if (!slice_is(a.terminator, "aws4_request"))
        return INVALID(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '%.*s'.",
            (int)MIN(a.terminator.n, 64), a.terminator.p);
    if (!slice_is(a.service, AUTH_SERVICE))
        return INVALID("Credential should be scoped to correct service: '" AUTH_SERVICE "'. ");
    if (keys->region && !slice_is(a.region, keys->region))
        return INVALID(
            "Credential should be scoped to a valid region, not '%.*s'. This server accepts '%s'.",
            (int)MIN(a.region.n, 64), a.region.p, keys->region);
    if (memcmp(a.date.p, amz_date, 8) != 0)
        return INVALID(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%.8s' != '%.8s', from '%s'.",
            a.date.p, amz_date, amz_date);

    if (signed_at < in->now - SIGV4_MAX_SKEW_SECONDS ||
        signed_at > in->now + SIGV4_MAX_SKEW_SECONDS) {
        bool past = signed_at < in->now;
        char now_s[17], bound_s[17];
        sigv4_format_amz_date(in->now, now_s);
        sigv4_format_amz_date(in->now + (past ? -1 : 1) * SIGV4_MAX_SKEW_SECONDS, bound_s);
        if (past)
            return INVALID("Signature expired: %s is now earlier than %s (%s - 5 min.)", amz_date,
                           bound_s, now_s);
        return INVALID("Signature not yet current: %s is still later than %s (%s + 5 min.)",
                       amz_date, bound_s, now_s);
    }

    /* The host header must be signed, or a request could be replayed against another server. */
    bool host_signed = false;
    for (size_t i = 0; i < a.signed_headers.n;) {
        size_t j = i;
        while (j < a.signed_headers.n && a.signed_headers.p[j] != ';')
            j++;
        if (j - i == 4 && memcmp(a.signed_headers.p + i, "host", 4) == 0) host_signed = true;
        i = j + 1;
    }
    if (!host_signed)
        return INVALID("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");

    char body_hash[65];
    sigv4_sha256_hex(in->body ? in->body : "", in->body_len, body_hash);
    const char *claimed = sigv4_find_header(in, "x-amz-content-sha256", &count);
    if (count > 1) return INCOMPLETE("The request has more than one X-Amz-Content-Sha256 header");
    if (claimed && strcmp(claimed, body_hash) != 0) {
        if (strcmp(claimed, "UNSIGNED-PAYLOAD") == 0 || strncmp(claimed, "STREAMING-", 10) == 0)
            return INVALID("X-Amz-Content-Sha256 '%.40s' is not accepted: the body must be signed",
                           claimed);
        return INVALID(
            "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }

    struct buf creq;
    buf_init(&creq, SIGV4_CANONICAL_MAX);
    (void)buf_grow(&creq, 1024);
    enum rc rc = sigv4_canonical_request(in, a.signed_headers, body_hash, &creq, &e);
    if (rc == RC_NOT_FOUND) {
        buf_release(&creq);
        return INVALID("%s: %s", MSG_MISMATCH, e.msg);
    }
    if (rc) {
        buf_release(&creq);
        return INCOMPLETE("%s", e.msg);
    }
    uint8_t key[32];
    signing_key(keys, k, &a, key);
    char expected[65];
    sigv4_signature(key, amz_date, &a, creq.data, creq.len, expected);
    OPENSSL_cleanse(key, sizeof(key));
    buf_release(&creq);
    if (CRYPTO_memcmp(expected, a.signature.p, 64) != 0) return INVALID(MSG_MISMATCH);
    if (access_key_id) *access_key_id = k->access_key_id;
    return RC_OK;
}

enum rc auth_verify(const struct auth_keys *keys, const struct sigv4_input *in,
                    struct auth_failure *out)
{
    return auth_verify_who(keys, in, out, NULL);
}
