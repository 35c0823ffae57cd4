/*
 * fuzz_credentials.c: the credentials-file parser on arbitrary text. Either
 * it fails with a message naming the file ("creds.ini..."), or it succeeds
 * with at least one key.
 */
#include "common/base.h"

#include "server/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_keys *k = auth_keys_new();
    struct err e = ERR_INIT;
    enum rc rc = auth_keys_parse_credentials(k, (const char *)data, size, "creds.ini", &e);
    if (rc) {
        if (strncmp(e.msg, "creds.ini", 9) != 0) abort(); /* every message names the file */
    } else if (auth_keys_count(k) == 0) {
        abort(); /* success means at least one key */
    }
    auth_keys_free(k);
    return 0;
}
