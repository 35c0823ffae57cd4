/*
 * sigv4.c: AWS Signature Version 4, the parts that do not depend on keys.
 *
 * Follows AWS's "Create a canonical request for Signature Version 4" and
 * matches what botocore's SigV4Auth produces for the same request (the unit
 * tests check that against requests signed by botocore itself).
 */
#include "common/base.h"
#include "common/clock.h"

#include "server/sigv4.h"

#include <strings.h>
#include <time.h>

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ---- small helpers ---- */

static bool slice_eq(struct sigv4_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void to_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Append 'n' bytes of 's' percent-encoding every byte but unreserved ones (and '/' if asked). */
static enum rc add_uri_encoded(struct buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        enum rc rc;
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            rc = buf_addch(b, (char)c);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            rc = buf_add(b, esc, 3);
        }
        if (rc) return rc;
    }
    return RC_OK;
}

/*
 * Decode %XX escapes of a query name or value s[0..n) into 'out' (at least n
 * bytes), and '+' as a space as form encoding does (botocore sends
 * params={"z": "a b"} as "z=a+b" and signs "z=a%20b"). A stray '%' stays.
 */
static size_t percent_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && (hi = hex_value(s[i + 1])) >= 0 &&
                   (lo = hex_value(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* ---- Authorization header ---- */

static struct sigv4_slice trim(const char *p, size_t n)
{
    while (n && is_space(*p)) {
        p++;
        n--;
    }
    while (n && is_space(p[n - 1]))
        n--;
    return (struct sigv4_slice){p, n};
}

static enum rc parse_credential(struct sigv4_slice v, struct sigv4_auth *out, struct err *e)
{
    struct sigv4_slice *parts[5] = {&out->access_key, &out->date, &out->region, &out->service,
                                    &out->terminator};
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= v.n; i++) {
        if (i < v.n && v.p[i] != '/') continue;
        if (k == 5) break;
        *parts[k++] = (struct sigv4_slice){v.p + start, i - start};
        start = i + 1;
    }
    bool ok = k == 5 && start > v.n;
    for (size_t i = 0; ok && i < 5; i++)
        ok = parts[i]->n > 0;
    if (!ok)
        return err_set(
            e, RC_PARSE,
            "Credential must have the form ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request, got '%.*s'",
            (int)MIN(v.n, 200), v.p);
    if (out->date.n != 8) goto bad_date;
    for (size_t i = 0; i < 8; i++)
        if (out->date.p[i] < '0' || out->date.p[i] > '9') goto bad_date;
    return RC_OK;
bad_date:
    return err_set(e, RC_PARSE, "Credential date must be YYYYMMDD, got '%.*s'",
                   (int)MIN(out->date.n, 64), out->date.p);
}

enum rc sigv4_parse_authorization(const char *value, struct sigv4_auth *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    size_t alen = strlen(SIGV4_ALGORITHM);
    const char *p = value;
    while (is_space(*p))
        p++;
    if (strncmp(p, SIGV4_ALGORITHM, alen) != 0 || !is_space(p[alen]))
        return err_set(e, RC_PARSE,
                       "Authorization header must start with '" SIGV4_ALGORITHM
                       " ' (only Signature Version 4 is supported)");
    p += alen;

    bool have_cred = false, have_signed = false, have_sig = false;
    struct sigv4_slice cred = {0};
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        struct sigv4_slice part = trim(p, n);
        p += n + (end ? 1 : 0);
        if (part.n == 0) {
            if (end) return err_set(e, RC_PARSE, "Authorization header has an empty component");
            break;
        }
        const char *eq = memchr(part.p, '=', part.n);
        if (!eq)
            return err_set(e, RC_PARSE, "Authorization header component '%.*s' is not NAME=VALUE",
                           (int)MIN(part.n, 100), part.p);
        struct sigv4_slice name = trim(part.p, (size_t)(eq - part.p));
        struct sigv4_slice val = trim(eq + 1, part.n - (size_t)(eq + 1 - part.p));
        bool *seen;
        struct sigv4_slice *dst;
        if (slice_eq(name, "Credential")) {
            seen = &have_cred;
            dst = &cred;
        } else if (slice_eq(name, "SignedHeaders")) {
            seen = &have_signed;
            dst = &out->signed_headers;
        } else if (slice_eq(name, "Signature")) {
            seen = &have_sig;
            dst = &out->signature;
        } else {
            return err_set(e, RC_PARSE, "Authorization header has an unknown component '%.*s'",
                           (int)MIN(name.n, 100), name.p);
        }
        if (*seen)
            return err_set(e, RC_PARSE, "Authorization header has '%.*s' more than once",
                           (int)name.n, name.p);
        *seen = true;
        *dst = val;
    }
    /* AWS's wording: one sentence per missing parameter. */
    if (!have_cred || !have_signed || !have_sig) {
        static const char *const names[] = {"Credential", "SignedHeaders", "Signature"};
        const bool have[] = {have_cred, have_signed, have_sig};
        char msg[256] = "";
        for (size_t i = 0; i < 3; i++)
            if (!have[i])
                snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
                         "%sAuthorization header requires '%s' parameter.", *msg ? " " : "",
                         names[i]);
        return err_set(e, RC_PARSE, "%s", msg);
    }
    enum rc rc = parse_credential(cred, out, e);
    if (rc) return rc;

    if (out->signed_headers.n == 0)
        return err_set(e, RC_PARSE, "SignedHeaders must name at least one header");
    for (size_t i = 0; i < out->signed_headers.n; i++) {
        char c = out->signed_headers.p[i];
        bool empty_name = c == ';' && (i == 0 || out->signed_headers.p[i - 1] == ';' ||
                                       i + 1 == out->signed_headers.n);
        if (empty_name ||
            (c != ';' && (c <= ' ' || c >= 127 || c == ',' || c == ':' || (c >= 'A' && c <= 'Z'))))
            return err_set(
                e, RC_PARSE,
                "SignedHeaders must be lowercase header names separated by ';', got '%.*s'",
                (int)MIN(out->signed_headers.n, 200), out->signed_headers.p);
    }
    bool sig_ok = out->signature.n == 64;
    for (size_t i = 0; sig_ok && i < 64; i++) {
        char c = out->signature.p[i];
        sig_ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
    if (!sig_ok)
        return err_set(e, RC_PARSE, "Signature must be 64 lowercase hex digits, got '%.*s'",
                       (int)MIN(out->signature.n, 100), out->signature.p);
    return RC_OK;
}

/* ---- dates ---- */

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool sigv4_parse_amz_date(const char *s, time_t *out)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return false;
    int y, mo, d, h, mi, se;
    if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) ||
        !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
        return false;
    int64_t t;
    if (y < 1970 || !clock_utc_seconds(y, mo, d, h, mi, se, &t)) return false;
    *out = (time_t)t;
    return true;
}

void sigv4_format_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---- canonical request ---- */

const char *sigv4_find_header(const struct sigv4_input *in, const char *name, size_t *count)
{
    const char *found = NULL;
    size_t c = 0;
    for (size_t i = 0; i < in->nheaders; i++) {
        if (in->headers[i].name && strcasecmp(in->headers[i].name, name) == 0) {
            if (!c) found = in->headers[i].value ? in->headers[i].value : "";
            c++;
        }
    }
    if (count) *count = c;
    return c == 1 ? found : NULL;
}

/*
 * The path with "." and ".." segments resolved and empty segments dropped
 * (botocore's remove_dot_segments), then URI-encoded keeping '/'.
 */
static enum rc add_canonical_uri(struct buf *b, const char *path)
{
    if (!path || !*path) return buf_addch(b, '/');
    size_t n = strlen(path);
    /* Segments kept so far, as (offset, length) pairs into 'path'; at most n/2+1 of them. */
    size_t nseg = 0, cap = n / 2 + 1;
    size_t segs_stack[2 * 32];
    size_t *segs = cap <= 32 ? segs_stack : xmallocarray(2 * cap, sizeof(size_t));
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (nseg) nseg--;
        } else if (len && !(len == 1 && path[i] == '.')) {
            segs[2 * nseg] = i;
            segs[2 * nseg + 1] = len;
            nseg++;
        }
        i = j + 1;
    }
    enum rc rc = RC_OK;
    if (path[0] == '/') rc = buf_addch(b, '/');
    for (size_t s = 0; !rc && s < nseg; s++) {
        if (s) rc = buf_addch(b, '/');
        if (!rc) rc = add_uri_encoded(b, path + segs[2 * s], segs[2 * s + 1], false);
    }
    if (!rc && path[n - 1] == '/' && nseg) rc = buf_addch(b, '/');
    if (segs != segs_stack) free(segs);
    return rc;
}

/* One query parameter, encoded, as offsets into a scratch buffer. */
struct qparam {
    size_t name_off, name_len, val_off, val_len;
};

static int qparam_cmp(const struct qparam *a, const struct qparam *b, const char *base)
{
    size_t n = MIN(a->name_len, b->name_len);
    int c = memcmp(base + a->name_off, base + b->name_off, n);
    if (c) return c;
    if (a->name_len != b->name_len) return a->name_len < b->name_len ? -1 : 1;
    n = MIN(a->val_len, b->val_len);
    c = memcmp(base + a->val_off, base + b->val_off, n);
    if (c) return c;
    if (a->val_len != b->val_len) return a->val_len < b->val_len ? -1 : 1;
    return 0;
}

/* Merge sort of 'n' params (stable, O(n log n), no global state). */
static void qparam_sort(struct qparam *a, struct qparam *tmp, size_t n, const char *base)
{
    if (n < 2) return;
    size_t h = n / 2;
    qparam_sort(a, tmp, h, base);
    qparam_sort(a + h, tmp, n - h, base);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = qparam_cmp(&a[j], &a[i], base) < 0 ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

/* Parameters decoded, re-encoded with the unreserved set, sorted by name then value. */
static enum rc add_canonical_query(struct buf *b, const char *query)
{
    if (!query || !*query) return RC_OK;
    size_t n = strlen(query);
    size_t count = 1;
    for (size_t i = 0; i < n; i++)
        count += query[i] == '&';
    struct qparam *params = xmallocarray(count, sizeof(*params));
    struct qparam *tmp = xmallocarray(count, sizeof(*tmp));
    char *decoded = xmalloc(n + 1);
    struct buf enc;
    buf_init(&enc, SIGV4_CANONICAL_MAX);
    size_t np = 0;
    enum rc rc = RC_OK;
    for (size_t i = 0; i <= n && !rc;) {
        size_t j = i;
        while (j < n && query[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(query + i, '=', j - i);
            size_t name_end = eq ? (size_t)(eq - query) : j;
            struct qparam *q = &params[np++];
            size_t d = percent_decode(query + i, name_end - i, decoded);
            q->name_off = enc.len;
            rc = add_uri_encoded(&enc, decoded, d, false);
            q->name_len = enc.len - q->name_off;
            size_t vstart = eq ? name_end + 1 : j;
            d = percent_decode(query + vstart, j - vstart, decoded);
            q->val_off = enc.len;
            if (!rc) rc = add_uri_encoded(&enc, decoded, d, false);
            q->val_len = enc.len - q->val_off;
        }
        i = j + 1;
    }
    if (!rc) {
        qparam_sort(params, tmp, np, enc.data);
        for (size_t k = 0; k < np && !rc; k++) {
            if (k) rc = buf_addch(b, '&');
            if (!rc) rc = buf_add(b, enc.data + params[k].name_off, params[k].name_len);
            if (!rc) rc = buf_addch(b, '=');
            if (!rc) rc = buf_add(b, enc.data + params[k].val_off, params[k].val_len);
        }
    }
    buf_release(&enc);
    free(decoded);
    free(tmp);
    free(params);
    return rc;
}

/* Append 'v' trimmed, with every run of whitespace inside collapsed to one space. */
static enum rc add_trimall(struct buf *b, const char *v)
{
    bool pending_space = false, any = false;
    for (const char *p = v ? v : ""; *p; p++) {
        if (is_space(*p)) {
            pending_space = any;
            continue;
        }
        enum rc rc = RC_OK;
        if (pending_space) rc = buf_addch(b, ' ');
        if (!rc) rc = buf_addch(b, *p);
        if (rc) return rc;
        pending_space = false;
        any = true;
    }
    return RC_OK;
}

static enum rc add_canonical_headers(struct buf *b, const struct sigv4_input *in,
                                     struct sigv4_slice signed_headers, struct err *e)
{
    char name[256];
    for (size_t i = 0; i < signed_headers.n;) {
        size_t j = i;
        while (j < signed_headers.n && signed_headers.p[j] != ';')
            j++;
        size_t len = j - i;
        if (len >= sizeof(name))
            return err_set(e, RC_PARSE, "SignedHeaders names a header longer than %zu bytes",
                           sizeof(name) - 1);
        memcpy(name, signed_headers.p + i, len);
        name[len] = '\0';
        enum rc rc = buf_add(b, name, len);
        if (!rc) rc = buf_addch(b, ':');
        bool found = false;
        for (size_t h = 0; h < in->nheaders && !rc; h++) {
            if (!in->headers[h].name || strcasecmp(in->headers[h].name, name) != 0) continue;
            if (found) rc = buf_addch(b, ',');
            if (!rc) rc = add_trimall(b, in->headers[h].value);
            found = true;
        }
        if (!rc) rc = buf_addch(b, '\n');
        if (rc)
            return err_set(e, rc, "canonical request longer than %d bytes", SIGV4_CANONICAL_MAX);
        if (!found)
            return err_set(e, RC_NOT_FOUND, "signed header '%s' is not in the request", name);
        i = j + 1;
    }
    return RC_OK;
}

enum rc sigv4_canonical_request(const struct sigv4_input *in, struct sigv4_slice signed_headers,
                                const char *payload_hash, struct buf *out, struct err *e)
{
    enum rc rc = buf_addstr(out, in->method ? in->method : "");
    if (!rc) rc = buf_addch(out, '\n');
    if (!rc) rc = add_canonical_uri(out, in->path);
    if (!rc) rc = buf_addch(out, '\n');
    if (!rc) rc = add_canonical_query(out, in->query);
    if (!rc) rc = buf_addch(out, '\n');
    if (rc) return err_set(e, rc, "canonical request longer than %d bytes", SIGV4_CANONICAL_MAX);
    rc = add_canonical_headers(out, in, signed_headers, e);
    if (rc) return rc;
    rc = buf_addch(out, '\n');
    if (!rc) rc = buf_add(out, signed_headers.p, signed_headers.n);
    if (!rc) rc = buf_addch(out, '\n');
    if (!rc) rc = buf_addstr(out, payload_hash);
    if (rc) return err_set(e, rc, "canonical request longer than %d bytes", SIGV4_CANONICAL_MAX);
    return RC_OK;
}

/* ---- hashing and signing ---- */

/*
 * SHA-256 through an EVP_MD fetched once: OpenSSL 3's one-shot SHA256() and
 * HMAC() look the algorithm up on every call, which costs more than hashing
 * a request.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_md) abort(); /* libcrypto without SHA-256: nothing can be verified */
}

/* SHA-256 of the concatenation a[0..na) b[0..nb) (b may be empty). */
static void sha256_2(const void *a, size_t na, const void *b, size_t nb, uint8_t out[32])
{
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, sha256_md, NULL) || !EVP_DigestUpdate(ctx, a, na) ||
        (nb && !EVP_DigestUpdate(ctx, b, nb)) || !EVP_DigestFinal_ex(ctx, out, NULL))
        abort(); /* only on allocation failure, like xmalloc */
    EVP_MD_CTX_free(ctx);
}

void sigv4_sha256_hex(const void *data, size_t n, char hex[65])
{
    uint8_t md[32];
    sha256_2(data, n, NULL, 0, md);
    to_hex(md, sizeof(md), hex);
}

/* HMAC-SHA256 (RFC 2104) for keys of at most 64 bytes, the only ones SigV4 makes after the first.
 */
static void hmac(const uint8_t *key, size_t key_len, const void *msg, size_t n, uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    if (key_len > 64)
        sha256_2(key, key_len, NULL, 0, k);
    else
        memcpy(k, key, key_len);
    for (size_t i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_2(pad, 64, msg, n, inner);
    for (size_t i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_2(pad, 64, inner, 32, out);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
}

enum rc sigv4_signing_key(const char *secret, struct sigv4_slice date, struct sigv4_slice region,
                          struct sigv4_slice service, uint8_t key[32])
{
    uint8_t k0[4 + 1024];
    size_t slen = strlen(secret);
    if (slen > 1024) return RC_LIMIT_EXCEEDED;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen);
    uint8_t k[32];
    hmac(k0, 4 + slen, date.p, date.n, k);
    hmac(k, 32, region.p, region.n, k);
    hmac(k, 32, service.p, service.n, k);
    hmac(k, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(k, sizeof(k));
    return RC_OK;
}

void sigv4_signature(const uint8_t key[32], const char *amz_date, const struct sigv4_auth *a,
                     const char *canonical, size_t canonical_len, char hex[65])
{
    char creq_hash[65];
    sigv4_sha256_hex(canonical, canonical_len, creq_hash);
    /* Every part is bounded: date 16, scope parts from one header line, hash 64. */
    size_t need = strlen(SIGV4_ALGORITHM) + 1 + strlen(amz_date) + 1 + a->date.n + 1 + a->region.n +
                  1 + a->service.n + 1 + 12 + 1 + 64 + 1;
    char stack[512];
    char *sts = need <= sizeof(stack) ? stack : xmalloc(need);
    int n = snprintf(sts, need, "%s\n%s\n%.*s/%.*s/%.*s/aws4_request\n%s", SIGV4_ALGORITHM,
                     amz_date, (int)a->date.n, a->date.p, (int)a->region.n, a->region.p,
                     (int)a->service.n, a->service.p, creq_hash);
    uint8_t sig[32];
    hmac(key, 32, sts, (size_t)n, sig);
    to_hex(sig, 32, hex);
    if (sts != stack) free(sts);
}
