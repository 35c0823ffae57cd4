/*
 * auth.h: who may call the API. Access keys, and SigV4 verification against them.
 *
 * The server loads a struct auth_keys once at start (auth_keys_load), checks
 * that its listen address is allowed (auth_check_listen), then calls
 * auth_verify() for every request but /healthz and /metrics, from any thread.
 * With no keys configured, verification is off (local development), which
 * auth_check_listen() only allows on a loopback address.
 */
#ifndef SAVOR_AUTH_H
#define SAVOR_AUTH_H

#include "common/base.h"
#include "server/sigv4.h"

/* The service name every Personalize client signs with (control plane, runtime and events). */
#define AUTH_SERVICE "personalize"

/* The environment variables holding one key pair. */
#define AUTH_ENV_ACCESS_KEY "SAVOR_ACCESS_KEY_ID"
#define AUTH_ENV_SECRET_KEY "SAVOR_SECRET_ACCESS_KEY"

/* The credentials file looked for in the data directory when --credentials is not given. */
#define AUTH_DATA_DIR_FILE "credentials"

/* Opaque: the configured keys, the optional region, and a cache of derived signing keys. */
struct auth_keys;

/*
 * Why a request was refused, as AWS answers it: the server sends 'status',
 * header X-Amzn-ErrorType: type and body {"__type": type, "message": message}.
 *   MissingAuthenticationTokenException 403  no Authorization header
 *   IncompleteSignatureException        400  malformed Authorization / X-Amz-Date
 *   UnrecognizedClientException         403  unknown access key (or wrong session token)
 *   InvalidSignatureException           403  wrong signature, scope or clock (> 5 min off)
 */
struct auth_failure {
    int status;
    const char *type; /* static string */
    char message[512];
};

/*
 * An empty key set (verification off). Free with auth_keys_free(). Add keys
 * and set the region before the server starts: auth_verify() may run on
 * many threads at once, but not alongside auth_keys_add().
 */
struct auth_keys *auth_keys_new(void);
void auth_keys_free(struct auth_keys *keys);

/*
 * Add one key. 'session_token' may be NULL (none required); when set, requests
 * with this key must carry it in X-Amz-Security-Token. 'origin' names where the
 * key came from for messages ("creds.ini:4", "environment"). The strings are
 * copied. Fails on an access key id or secret that is empty or has characters
 * SigV4 cannot carry, and on an id already added with a different secret.
 */
enum rc auth_keys_add(struct auth_keys *keys, const char *access_key_id, const char *secret,
                      const char *session_token, const char *origin, struct err *e);

/*
 * Parse an AWS shared-credentials file ("[profile]" sections with
 * aws_access_key_id, aws_secret_access_key and optionally aws_session_token;
 * '#' and ';' comments; other settings ignored) held in text[0..len) and add
 * every profile's key. 'filename' is only used in messages ("FILE:LINE: ...").
 * Pure: no I/O. On failure, keys of the profiles before the error may have
 * been added: discard the set (auth_keys_load does).
 */
enum rc auth_keys_parse_credentials(struct auth_keys *keys, const char *text, size_t len,
                                    const char *filename, struct err *e);

/* Read and parse the credentials file at 'path'. */
enum rc auth_keys_load_file(struct auth_keys *keys, const char *path, struct err *e);

/* Add the key in SAVOR_ACCESS_KEY_ID / SAVOR_SECRET_ACCESS_KEY, if set (both or neither). */
enum rc auth_keys_load_env(struct auth_keys *keys, struct err *e);

/*
 * The server's whole policy: the file 'credentials_path' if given (it must
 * exist), else DATA_DIR/credentials if it exists; then the environment.
 * '*out' is set on success (possibly with zero keys); the caller frees it.
 */
enum rc auth_keys_load(const char *credentials_path, const char *data_dir, struct auth_keys **out,
                       struct err *e);

/* Only accept requests scoped to 'region' (copied; NULL: any region, the default). */
void auth_keys_set_region(struct auth_keys *keys, const char *region);

/* How many keys are configured (0: verification is off). */
size_t auth_keys_count(const struct auth_keys *keys);

/*
 * Whether the server may listen on 'listen_addr' ("HOST:PORT", "[V6]:PORT",
 * ":PORT" for every interface) with these keys: always with keys; without
 * keys only on loopback (127.0.0.0/8, ::1, localhost). Fails with
 * RC_INVALID_INPUT and a message saying how to configure keys.
 */
enum rc auth_check_listen(const struct auth_keys *keys, const char *listen_addr, struct err *e);

/* Whether 'listen_addr' names a loopback address (as auth_check_listen() reads it). */
bool auth_listen_is_loopback(const char *listen_addr);

/*
 * Verify the SigV4 signature of one request. RC_OK when it is valid (or no
 * keys are configured); otherwise RC_INVALID_INPUT with 'out' filled.
 * Thread-safe; allocates one small buffer per call (two with a query string).
 * On success '*access_key_id' (if not NULL) points at the caller's key id,
 * valid as long as 'keys' (NULL when verification is off).
 */
enum rc auth_verify(const struct auth_keys *keys, const struct sigv4_input *in,
                    struct auth_failure *out);
enum rc auth_verify_who(const struct auth_keys *keys, const struct sigv4_input *in,
                        struct auth_failure *out, const char **access_key_id);

#endif
