/*
 * sigv4.h: the pieces of AWS Signature Version 4 (header-based, AWS4-HMAC-SHA256).
 *
 * Pure functions over one request: parse the Authorization header, build the
 * canonical request and the string to sign, derive the signing key, sign.
 * No I/O and no global state; auth.h decides which key and which errors.
 *
 * The request is described by struct sigv4_input exactly as it came off the
 * wire: 'path' is the raw request path (still percent-encoded, no query),
 * 'query' the raw query string after '?' (no '?', may be NULL or ""), and
 * 'headers' every header line in arrival order (duplicates included).
 */
#ifndef SAVOR_SIGV4_H
#define SAVOR_SIGV4_H

#include "common/base.h"
#include "common/buf.h"

#include <time.h>

struct sigv4_header {
    const char *name;  /* any case; NULL entries are skipped */
    const char *value; /* NULL is taken as "" */
};

struct sigv4_input {
    const char *method; /* "POST" */
    const char *path;   /* raw, percent-encoded, e.g. "/recommendations" */
    const char *query;  /* raw, without '?'; NULL or "" when there is none */
    const struct sigv4_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    time_t now; /* the server's clock, for the 5-minute window */
};

/* A byte range inside a caller-owned string (not NUL-terminated). */
struct sigv4_slice {
    const char *p;
    size_t n;
};

/*
 * The fields of "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b;c, Signature=HEX". Slices point into the header value.
 */
struct sigv4_auth {
    struct sigv4_slice access_key, date, region, service, terminator;
    struct sigv4_slice signed_headers; /* "content-type;host;x-amz-date" */
    struct sigv4_slice signature;      /* 64 lowercase hex digits */
};

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
/* How far X-Amz-Date may be from the server's clock, either way (AWS's rule). */
#define SIGV4_MAX_SKEW_SECONDS 300
/* Cap on the canonical request: headers are capped by the server well below this. */
#define SIGV4_CANONICAL_MAX (1024 * 1024)

/*
 * Parse an Authorization header value into 'out'. Fails with RC_PARSE and a
 * message naming the missing, duplicated or malformed part (the text AWS
 * would put in an IncompleteSignatureException).
 */
enum rc sigv4_parse_authorization(const char *value, struct sigv4_auth *out, struct err *e);

/* Parse "YYYYMMDDTHHMMSSZ" (UTC) into 'out'. False if malformed or out of range. */
bool sigv4_parse_amz_date(const char *s, time_t *out);

/* Format 't' as "YYYYMMDDTHHMMSSZ" into 'out' (16 characters and a NUL). */
void sigv4_format_amz_date(time_t t, char out[17]);

/*
 * The value of header 'name' (case-insensitive) when it occurs exactly once;
 * NULL when absent. '*count' (may be NULL) receives the number of occurrences.
 */
const char *sigv4_find_header(const struct sigv4_input *in, const char *name, size_t *count);

/*
 * Append the canonical request of 'in' to 'out':
 *   METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH
 * URI is the path with dot segments and repeated slashes removed, each byte
 * outside A-Za-z0-9-_.~/ percent-encoded (so an encoded path is encoded
 * twice, as AWS specifies for every service but S3). QUERY is the parameters
 * decoded, re-encoded and sorted by name then value. HEADERS lists each name
 * of 'signed_headers' with its values trimmed, inner whitespace runs
 * collapsed, repeats joined by ','. 'payload_hash' is 64 hex digits.
 * Fails (RC_NOT_FOUND) when a signed header is absent from the request and
 * (RC_LIMIT_EXCEEDED) past SIGV4_CANONICAL_MAX, with a message in 'e'.
 */
enum rc sigv4_canonical_request(const struct sigv4_input *in, struct sigv4_slice signed_headers,
                                const char *payload_hash, struct buf *out, struct err *e);

/* Lowercase hex SHA-256 of 'data' into 'hex' (64 digits and a NUL). */
void sigv4_sha256_hex(const void *data, size_t n, char hex[65]);

/*
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * Fails (RC_LIMIT_EXCEEDED) only for a secret longer than 1 KiB.
 */
enum rc sigv4_signing_key(const char *secret, struct sigv4_slice date, struct sigv4_slice region,
                          struct sigv4_slice service, uint8_t key[32]);

/*
 * The hex signature of a request: HMAC(key, string to sign), where the string
 * to sign is "AWS4-HMAC-SHA256\n" AMZDATE "\n" DATE/REGION/SERVICE/aws4_request
 * "\n" hex(SHA-256(canonical request)).
 */
void sigv4_signature(const uint8_t key[32], const char *amz_date, const struct sigv4_auth *a,
                     const char *canonical, size_t canonical_len, char hex[65]);

#endif
