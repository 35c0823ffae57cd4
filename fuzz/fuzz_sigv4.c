/*
 * fuzz_sigv4.c: arbitrary requests through auth_verify().
 *
 * Input, one field per line: METHOD, PATH, QUERY, then "Name: value" header
 * lines up to an empty line, then the body (the rest, newlines included).
 * The only configured key is AKIDEXAMPLE; the server's clock is the
 * request's own X-Amz-Date when it has one.
 *
 * Properties: no crash or leak for any input; every refusal carries a known
 * status and type; and when the only thing wrong is the signature, putting
 * the signature computed by the sigv4 functions in its place makes the
 * request verify (so parsing and canonicalisation agree on every input).
 */
#include "common/base.h"

#include "server/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_sigv4: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#define AKID   "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define MAXH   32

static struct auth_keys *keys;

static bool known_failure(const struct auth_failure *f)
{
    static const struct {
        int status;
        const char *type;
    } known[] = {
        {403, "MissingAuthenticationTokenException"},
        {400, "IncompleteSignatureException"},
        {403, "UnrecognizedClientException"},
        {403, "InvalidSignatureException"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
        if (f->status == known[i].status && f->type && !strcmp(f->type, known[i].type)) return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys) {
        struct err e = ERR_INIT;
        keys = auth_keys_new();
        if (auth_keys_add(keys, AKID, SECRET, NULL, "fuzz", &e)) abort();
    }
    char *text = xmalloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    /* Split into lines in place. */
    char *fields[3] = {"", "", ""};
    struct sigv4_header headers[MAXH];
    size_t nh = 0;
    char *p = text, *end = text + size;
    for (int i = 0; i < 3 && p < end; i++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl) *nl = '\0';
        fields[i] = p;
        p = nl ? nl + 1 : end;
    }
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl) *nl = '\0';
        char *line = p;
        p = nl ? nl + 1 : end;
        if (!*line) break;
        char *colon = strchr(line, ':');
        if (!colon || nh == MAXH) continue;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ')
            value++;
        headers[nh++] = (struct sigv4_header){line, value};
    }
    struct sigv4_input in = {.method = fields[0],
                             .path = fields[1],
                             .query = fields[2],
                             .headers = headers,
                             .nheaders = nh,
                             .body = p,
                             .body_len = (size_t)(end - p)};
    const char *date = sigv4_find_header(&in, "x-amz-date", NULL);
    if (!date || !sigv4_parse_amz_date(date, &in.now)) in.now = 1440938160;

    struct auth_failure f = {0};
    enum rc rc = auth_verify(keys, &in, &f);
    CHECK(rc == RC_OK || rc == RC_INVALID_INPUT);
    if (rc) CHECK(known_failure(&f));

    /* Only the signature wrong: sign it properly and it must pass. */
    if (rc && !strcmp(f.type, "InvalidSignatureException") &&
        !strncmp(f.message, "The request signature we calculated", 35) && !strchr(f.message, ':')) {
        size_t ai = SIZE_MAX;
        for (size_t i = 0; i < nh; i++)
            if (!strcasecmp(headers[i].name, "authorization")) ai = i;
        CHECK(ai != SIZE_MAX);
        char *authz = xstrdup(headers[ai].value);
        struct sigv4_auth a;
        struct err e = ERR_INIT;
        CHECK(sigv4_parse_authorization(authz, &a, &e) == RC_OK);
        char hash[65];
        sigv4_sha256_hex(in.body, in.body_len, hash);
        struct buf creq;
        buf_init(&creq, SIGV4_CANONICAL_MAX);
        CHECK(sigv4_canonical_request(&in, a.signed_headers, hash, &creq, &e) == RC_OK);
        uint8_t key[32];
        CHECK(sigv4_signing_key(SECRET, a.date, a.region, a.service, key) == RC_OK);
        char sig[65];
        sigv4_signature(key, date, &a, creq.data, creq.len, sig);
        memcpy((char *)a.signature.p, sig, 64);
        headers[ai].value = authz;
        struct auth_failure f2 = {0};
        if (auth_verify(keys, &in, &f2) != RC_OK) {
            fprintf(stderr, "fuzz_sigv4: re-signed request refused: %s %s\n", f2.type, f2.message);
            abort();
        }
        buf_release(&creq);
        free(authz);
    }
    free(text);
    return 0;
}
