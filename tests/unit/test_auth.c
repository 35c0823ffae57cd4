/*
 * test_auth.c: access keys (src/server/auth.c): the credentials-file parser
 * and its messages, the environment variables, the loading policy, and the
 * rule that a server without keys listens on loopback only.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/auth.h"

/* A request signed with 'secret' for key 'akid' must verify against 'keys' (or not). */
static bool key_works(const struct auth_keys *keys, const char *akid, const char *secret)
{
    /* Sign a minimal request ourselves with the sigv4 pieces (checked against botocore in
     * test_sigv4.c). */
    const char *date = "20240102T030405Z";
    char authz[512];
    struct sigv4_header h[3] = {{"Host", "localhost:8080"}, {"X-Amz-Date", date}, {NULL, NULL}};
    struct sigv4_input in = {.method = "POST", .path = "/", .headers = h, .nheaders = 3};
    snprintf(
        authz, sizeof(authz),
        "AWS4-HMAC-SHA256 Credential=%s/20240102/us-east-1/personalize/aws4_request, SignedHeaders=host;x-amz-date, Signature=%064d",
        akid, 0);
    h[2] = (struct sigv4_header){"Authorization", authz};
    struct sigv4_auth a;
    struct err e = ERR_INIT;
    assert_int_equal(sigv4_parse_authorization(authz, &a, &e), RC_OK);
    struct buf creq;
    buf_init(&creq, BUF_NO_CAP);
    char hash[65];
    sigv4_sha256_hex("", 0, hash);
    assert_int_equal(sigv4_canonical_request(&in, a.signed_headers, hash, &creq, &e), RC_OK);
    uint8_t key[32];
    assert_int_equal(sigv4_signing_key(secret, a.date, a.region, a.service, key), RC_OK);
    char sig[65];
    sigv4_signature(key, date, &a, creq.data, creq.len, sig);
    buf_release(&creq);
    char *at = strstr(authz, "Signature=") + strlen("Signature=");
    memcpy(at, sig, 64);
    sigv4_parse_amz_date(date, &in.now);
    struct auth_failure f;
    return auth_verify(keys, &in, &f) == RC_OK;
}

static enum rc parse(struct auth_keys *k, const char *text, struct err *e)
{
    return auth_keys_parse_credentials(k, text, strlen(text), "creds.ini", e);
}

static void credentials_file_ok(void **state)
{
    UNUSED(state);
    struct auth_keys *k = auth_keys_new();
    struct err e = ERR_INIT;
    const char *text = "# savor keys\r\n"
                       "[default]\r\n"
                       "aws_access_key_id = AKIDONE\r\n"
                       "aws_secret_access_key=secret/one+\r\n"
                       "\n"
                       "; a second profile, settings in another order and case\n"
                       "  [ ops ]  \n"
                       "region = eu-west-1\n"
                       "AWS_SECRET_ACCESS_KEY =   two==  \n"
                       "\taws_access_key_id\t=\tAKIDTWO\n"
                       "[tok]\n"
                       "aws_access_key_id=AKIDTOKEN\n"
                       "aws_secret_access_key=three\n"
                       "aws_session_token=SESSION";
    if (parse(k, text, &e)) fail_msg("%s", e.msg);
    assert_int_equal(auth_keys_count(k), 3);
    assert_true(key_works(k, "AKIDONE", "secret/one+"));
    assert_true(key_works(k, "AKIDTWO", "two=="));
    assert_false(key_works(k, "AKIDTWO", "secret/one+"));
    assert_false(key_works(k, "AKIDNONE", "two=="));
    /* The third key requires its session token, which this request lacks. */
    assert_false(key_works(k, "AKIDTOKEN", "three"));
    auth_keys_free(k);
}

static void credentials_file_errors(void **state)
{
    UNUSED(state);
    struct {
        const char *text, *error;
    } cases[] = {
        {"", "creds.ini: no [profile] section"},
        {"# only a comment\n", "creds.ini: no [profile] section"},
        {"aws_access_key_id = A\n", "creds.ini:1: setting before the first [profile] section"},
        {"[a]\naws_access_key_id = A\n", "creds.ini:1: profile [a] has no aws_secret_access_key"},
        {"[a]\naws_secret_access_key = s\n", "creds.ini:1: profile [a] has no aws_access_key_id"},
        {"[a]\nregion = x\n[b]\n", "creds.ini:1: profile [a] has no aws_access_key_id"},
        {"\n\n[a\n", "creds.ini:3: malformed section header '[a'"},
        {"[]\n", "creds.ini:1: malformed section header"},
        {"[a] x\n", "creds.ini:1: malformed section header"},
        {"[a]\njust words\n",
         "creds.ini:2: expected 'name = value' or '[profile]', got 'just words'"},
        {"[a]\n= v\n", "creds.ini:2: setting with an empty name"},
        {"[a]\naws_access_key_id =\naws_secret_access_key = s\n",
         "creds.ini:2: aws_access_key_id is empty"},
        {"[a]\naws_access_key_id = A\naws_access_key_id = B\n",
         "creds.ini:3: aws_access_key_id is set twice in profile [a] (first at line 2)"},
        {"[a]\naws_access_key_id = A\naws_secret_access_key = s\n[a]\n",
         "creds.ini:4: profile [a] appears twice (first at line 1)"},
        {"[a]\naws_access_key_id = A/B\naws_secret_access_key = s\n",
         "creds.ini:1: profile [a]: aws_access_key_id 'A/B' has character 0x2f at offset 1"},
        {"[a]\naws_access_key_id = A B\naws_secret_access_key = s\n",
         "aws_access_key_id 'A B' has character 0x20"},
        {"[a]\naws_access_key_id = A\naws_secret_access_key = s \xc3\xa9\n",
         "creds.ini:1: profile [a]: aws_secret_access_key has character 0x20 at offset 1"},
        {"[a]\naws_access_key_id = A\naws_secret_access_key = s\n"
         "[b]\naws_access_key_id = A\naws_secret_access_key = t\n",
         "creds.ini:4: profile [b]: access key id 'A' is already configured with a different secret (creds.ini:2)"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct auth_keys *k = auth_keys_new();
        struct err e = ERR_INIT;
        if (parse(k, cases[i].text, &e) == RC_OK) fail_msg("case %zu parsed", i);
        if (!strstr(e.msg, cases[i].error))
            fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, cases[i].error);
        auth_keys_free(k);
    }
    /* A NUL byte inside the text. */
    struct auth_keys *k = auth_keys_new();
    struct err e = ERR_INIT;
    const char nul[] = "[a]\naws_access_key_id = A\0B\naws_secret_access_key = s\n";
    assert_int_equal(auth_keys_parse_credentials(k, nul, sizeof(nul) - 1, "creds.ini", &e),
                     RC_PARSE);
    assert_string_equal(e.msg, "creds.ini:2: NUL byte in the line");
    auth_keys_free(k);
}

static void same_key_twice_is_fine(void **state)
{
    UNUSED(state);
    struct auth_keys *k = auth_keys_new();
    struct err e = ERR_INIT;
    assert_int_equal(auth_keys_add(k, "AKID", "s", NULL, "a", &e), RC_OK);
    assert_int_equal(auth_keys_add(k, "AKID", "s", NULL, "b", &e), RC_OK);
    assert_int_equal(auth_keys_count(k), 1);
    assert_int_equal(auth_keys_add(k, "AKID", "s", "tok", "c", &e), RC_ALREADY_EXISTS);
    /* Many keys: the array grows and the signing-key cache must not keep stale pointers. */
    assert_true(key_works(k, "AKID", "s"));
    for (int i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof(id), "K%d", i);
        assert_int_equal(auth_keys_add(k, id, id, NULL, "loop", &e), RC_OK);
    }
    assert_true(key_works(k, "AKID", "s"));
    assert_true(key_works(k, "K39", "K39"));
    assert_false(key_works(k, "K38", "K39"));
    auth_keys_free(k);
}

static void environment(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    unsetenv(AUTH_ENV_ACCESS_KEY);
    unsetenv(AUTH_ENV_SECRET_KEY);
    struct auth_keys *k = auth_keys_new();
    assert_int_equal(auth_keys_load_env(k, &e), RC_OK);
    assert_int_equal(auth_keys_count(k), 0);

    setenv(AUTH_ENV_ACCESS_KEY, "AKIDENV", 1);
    assert_int_equal(auth_keys_load_env(k, &e), RC_INVALID_INPUT);
    assert_string_equal(
        e.msg,
        "SAVOR_ACCESS_KEY_ID is set but SAVOR_SECRET_ACCESS_KEY is not: set both or neither");

    setenv(AUTH_ENV_SECRET_KEY, "envsecret", 1);
    assert_int_equal(auth_keys_load_env(k, &e), RC_OK);
    assert_int_equal(auth_keys_count(k), 1);
    assert_true(key_works(k, "AKIDENV", "envsecret"));
    auth_keys_free(k);

    setenv(AUTH_ENV_SECRET_KEY, "bad secret", 1);
    k = auth_keys_new();
    assert_int_equal(auth_keys_load_env(k, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(
        e.msg,
        "SAVOR_ACCESS_KEY_ID/SAVOR_SECRET_ACCESS_KEY: aws_secret_access_key has character 0x20"));
    auth_keys_free(k);
    unsetenv(AUTH_ENV_ACCESS_KEY);
    unsetenv(AUTH_ENV_SECRET_KEY);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void load_policy(void **state)
{
    UNUSED(state);
    char dir[] = "/tmp/savor-test-auth.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *dd_file = xasprintf("%s/%s", dir, AUTH_DATA_DIR_FILE);
    char *other = xasprintf("%s/other.ini", dir);
    struct err e = ERR_INIT;
    struct auth_keys *k = NULL;
    unsetenv(AUTH_ENV_ACCESS_KEY);
    unsetenv(AUTH_ENV_SECRET_KEY);

    /* Nothing configured: zero keys, verification off. */
    assert_int_equal(auth_keys_load(NULL, dir, &k, &e), RC_OK);
    assert_int_equal(auth_keys_count(k), 0);
    auth_keys_free(k);

    /* DATA_DIR/credentials is picked up. */
    write_file(dd_file, "[default]\naws_access_key_id=AKIDDD\naws_secret_access_key=dd\n");
    assert_int_equal(auth_keys_load(NULL, dir, &k, &e), RC_OK);
    assert_true(key_works(k, "AKIDDD", "dd"));
    auth_keys_free(k);

    /* --credentials replaces it, and the environment adds to it. */
    write_file(other, "[x]\naws_access_key_id=AKIDX\naws_secret_access_key=xx\n");
    setenv(AUTH_ENV_ACCESS_KEY, "AKIDENV", 1);
    setenv(AUTH_ENV_SECRET_KEY, "ee", 1);
    assert_int_equal(auth_keys_load(other, dir, &k, &e), RC_OK);
    assert_int_equal(auth_keys_count(k), 2);
    assert_true(key_works(k, "AKIDX", "xx"));
    assert_true(key_works(k, "AKIDENV", "ee"));
    assert_false(key_works(k, "AKIDDD", "dd"));
    auth_keys_free(k);
    unsetenv(AUTH_ENV_ACCESS_KEY);
    unsetenv(AUTH_ENV_SECRET_KEY);

    /* A named file must exist; a broken one names file:line. */
    char *missing = xasprintf("%s/missing.ini", dir);
    k = NULL;
    assert_int_equal(auth_keys_load(missing, dir, &k, &e), RC_IO);
    assert_null(k);
    assert_non_null(strstr(e.msg, "missing.ini: cannot open credentials file: No such file"));
    write_file(dd_file, "[default]\naws_access_key_id=AKIDDD\noops\n");
    assert_int_equal(auth_keys_load(NULL, dir, &k, &e), RC_PARSE);
    char *want = xasprintf("%s:3: expected 'name = value'", dd_file);
    assert_non_null(strstr(e.msg, want));
    free(want);

    unlink(dd_file);
    unlink(other);
    rmdir(dir);
    free(missing);
    free(dd_file);
    free(other);
}

static void listen_rule(void **state)
{
    UNUSED(state);
    const char *loopback[] = {
        "127.0.0.1:8080", "127.1.2.3:1", "localhost:8080",        "LOCALHOST",
        "[::1]:8080",     "::1",         "[::ffff:127.0.0.1]:80", "127.0.0.1"};
    const char *open[] = {"0.0.0.0:8080",
                          ":8080",
                          "[::]:8080",
                          "::",
                          "192.168.1.10:8080",
                          "example.com:8080",
                          "128.0.0.1:80",
                          "[::1",
                          "",
                          "*:8080",
                          "localhost.evil.com:80",
                          "[::ffff:10.0.0.1]:80"};
    struct auth_keys *none = auth_keys_new();
    struct auth_keys *some = auth_keys_new();
    struct err e = ERR_INIT;
    assert_int_equal(auth_keys_add(some, "A", "s", NULL, "t", &e), RC_OK);
    for (size_t i = 0; i < ARRAY_SIZE(loopback); i++) {
        if (!auth_listen_is_loopback(loopback[i])) fail_msg("'%s' not loopback", loopback[i]);
        assert_int_equal(auth_check_listen(none, loopback[i], &e), RC_OK);
        assert_int_equal(auth_check_listen(some, loopback[i], &e), RC_OK);
    }
    for (size_t i = 0; i < ARRAY_SIZE(open); i++) {
        if (auth_listen_is_loopback(open[i])) fail_msg("'%s' taken for loopback", open[i]);
        assert_int_equal(auth_check_listen(some, open[i], &e), RC_OK);
        assert_int_equal(auth_check_listen(none, open[i], &e), RC_INVALID_INPUT);
        char *want = xasprintf(
            "refusing to listen on %s, a non-loopback address, without access keys", open[i]);
        assert_non_null(strstr(e.msg, want));
        assert_non_null(strstr(e.msg, "--credentials FILE"));
        assert_non_null(strstr(e.msg, "SAVOR_ACCESS_KEY_ID"));
        free(want);
    }
    auth_keys_free(none);
    auth_keys_free(some);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(credentials_file_ok),
        cmocka_unit_test(credentials_file_errors),
        cmocka_unit_test(same_key_twice_is_fine),
        cmocka_unit_test(environment),
        cmocka_unit_test(load_policy),
        cmocka_unit_test(listen_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
