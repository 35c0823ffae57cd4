/*
 * validate.c: walk a request against the generated Personalize shapes.
 *
 * The model's few patterns are matched by hand-written functions (no regex
 * engine): each is read as a whole-string match, as AWS applies them.
 */
#include "common/base.h"
#include "api/validate.h"
#include "api/validate_int.h"

#include <ctype.h>
#include <stdarg.h>

/* ---- Patterns -------------------------------------------------------------- */

static bool is_alnum(char c)
{
    return isascii((unsigned char)c) && isalnum((unsigned char)c);
}

static bool match_name(const char *s)
{
    if (!is_alnum(*s)) return false;
    for (s++; *s; s++)
        if (!is_alnum(*s) && *s != '-' && *s != '_') return false;
    return true;
}

/* "arn:" [a-z0-9-]+ ":" then 'service' (with its colons); returns what follows, or NULL. */
static const char *arn_prefix(const char *s, const char *service)
{
    if (strncmp(s, "arn:", 4) != 0) return NULL;
    s += 4;
    const char *p = s;
    while (*p && (islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
        p++;
    if (p == s || *p != ':') return NULL;
    p++;
    size_t n = strlen(service);
    return strncmp(p, service, n) == 0 ? p + n : NULL;
}

/* arn:([a-z\d-]+):personalize:.*:.*:.+ */
static bool match_personalize_arn(const char *s)
{
    const char *rest = arn_prefix(s, "personalize:");
    if (!rest) return false;
    const char *c1 = strchr(rest, ':');
    if (!c1) return false;
    /* Some later colon must be followed by at least one character. */
    for (const char *c2 = strchr(c1 + 1, ':'); c2; c2 = strchr(c2 + 1, ':'))
        if (c2[1]) return true;
    return false;
}

/* arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+ */
static bool match_role_arn(const char *s)
{
    const char *p = arn_prefix(s, "iam::");
    if (!p) return false;
    for (int i = 0; i < 12; i++, p++)
        if (!isdigit((unsigned char)*p)) return false;
    if (strncmp(p, ":role", 5) != 0) return false;
    p += 5;
    if (*p == '/') p++;
    if (!*p) {
        /* "role/" alone: the '/' itself satisfies the one-or-more class. */
        return p[-1] == '/';
    }
    for (; *p; p++)
        if (!is_alnum(*p) && !strchr("_+=,.@-/", *p)) return false;
    return true;
}

/* arn:aws.*:kms:.*:[0-9]{12}:key/.* */
static bool match_kms_arn(const char *s)
{
    if (strncmp(s, "arn:aws", 7) != 0) return false;
    const char *kms = strstr(s + 7, ":kms:");
    if (!kms) return false;
    for (const char *k = strstr(kms + 4, ":key/"); k; k = strstr(k + 1, ":key/")) {
        if (k - kms < 4 + 13) continue;
        const char *d = k - 12;
        bool digits = d[-1] == ':';
        for (int i = 0; i < 12 && digits; i++)
            digits = isdigit((unsigned char)d[i]) != 0;
        if (digits) return true;
    }
    return false;
}

/*
 * ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$: ASCII letters, digits, space and the listed
 * punctuation; beyond ASCII, every character except C1 controls (an
 * approximation of Unicode's letter, separator and number classes).
 */
static bool match_tag(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) {
            if (!isalnum(*p) && !strchr(" _.:/=+-@", *p)) return false;
            p++;
            continue;
        }
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) return false; /* U+0080..U+009F */
        p++;
        while ((*p & 0xC0) == 0x80)
            p++;
    }
    return true;
}

static bool pattern_match(enum vpattern pat, const char *s)
{
    switch (pat) {
    case VPAT_NONE:
        return true;
    case VPAT_NAME:
        return match_name(s);
    case VPAT_PERSONALIZE_ARN:
        return match_personalize_arn(s);
    case VPAT_ROLE_ARN:
        return match_role_arn(s);
    case VPAT_KMS_ARN:
        return match_kms_arn(s);
    case VPAT_TAG:
        return match_tag(s);
    }
    return false;
}

static const char *pattern_text(enum vpattern pat)
{
    switch (pat) {
    case VPAT_NONE:
        return "";
    case VPAT_NAME:
        return "^[a-zA-Z0-9][a-zA-Z0-9\\-_]*";
    case VPAT_PERSONALIZE_ARN:
        return "arn:([a-z\\d-]+):personalize:.*:.*:.+";
    case VPAT_ROLE_ARN:
        return "arn:([a-z\\d-]+):iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+";
    case VPAT_KMS_ARN:
        return "arn:aws.*:kms:.*:[0-9]{12}:key/.*";
    case VPAT_TAG:
        return "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$";
    }
    return "";
}

/* ---- The walk -------------------------------------------------------------- */

/* Characters (code points) of a valid UTF-8 string. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static enum rc fail(struct err *e, const char *path, const json_t *v, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static enum rc fail(struct err *e, const char *path, const json_t *v, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    char value[80];
    if (!v) {
        snprintf(value, sizeof(value), "null");
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        snprintf(value, sizeof(value), "'%.60s%s'", s, strlen(s) > 60 ? "..." : "");
    } else if (json_is_number(v)) {
        snprintf(value, sizeof(value), "%g", json_number_value(v));
    } else {
        snprintf(value, sizeof(value), "of type %s",
                 json_is_object(v)  ? "object"
                 : json_is_array(v) ? "list"
                                    : "boolean");
    }
    return err_set(e, RC_INVALID_INPUT,
                   "1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s",
                   value, path, what);
}

static enum rc check(const struct vshape *sh, const json_t *v, const char *path, struct err *e);

static enum rc check_bounds(const struct vshape *sh, double x, const json_t *v, const char *path,
                            const char *unit, struct err *e)
{
    if (sh->has_min && x < sh->min) {
        if (*unit)
            return fail(e, path, v, "Member must have %s greater than or equal to %g", unit,
                        sh->min);
        return fail(e, path, v, "Member must have value greater than or equal to %g", sh->min);
    }
    if (sh->has_max && x > sh->max) {
        if (*unit)
            return fail(e, path, v, "Member must have %s less than or equal to %g", unit, sh->max);
        return fail(e, path, v, "Member must have value less than or equal to %g", sh->max);
    }
    return RC_OK;
}

static enum rc check_struct(const struct vshape *sh, const json_t *v, const char *path,
                            struct err *e)
{
    if (!json_is_object(v)) return fail(e, path, v, "Member must be a structure");
    for (size_t i = 0; i < sh->nmembers; i++) {
        const struct vmember *m = &sh->members[i];
        const json_t *mv = json_object_get(v, m->name);
        char sub[256];
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", m->name);
        if (!mv || json_is_null(mv)) {
            if (m->required) return fail(e, sub, NULL, "Member must not be null");
            continue;
        }
        enum rc rc = check(&api_shapes[m->shape], mv, sub, e);
        if (rc) return rc;
    }
    return RC_OK;
}

static enum rc check(const struct vshape *sh, const json_t *v, const char *path, struct err *e)
{
    switch (sh->type) {
    case VT_STRUCT:
        return check_struct(sh, v, path, e);
    case VT_LIST: {
        if (!json_is_array(v)) return fail(e, path, v, "Member must be a list");
        enum rc rc = check_bounds(sh, (double)json_array_size(v), v, path, "length", e);
        if (rc) return rc;
        for (size_t i = 0; i < json_array_size(v); i++) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s.%zu.member", path, i + 1);
            rc = check(&api_shapes[sh->member], json_array_get(v, i), sub, e);
            if (rc) return rc;
        }
        return RC_OK;
    }
    case VT_MAP: {
        if (!json_is_object(v)) return fail(e, path, v, "Member must be a map");
        enum rc rc = check_bounds(sh, (double)json_object_size(v), v, path, "length", e);
        if (rc) return rc;
        const char *k;
        json_t *mv;
        json_object_foreach((json_t *)v, k, mv)
        {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            json_t *key = json_string(k);
            rc = check(&api_shapes[sh->key], key, sub, e);
            json_decref(key);
            if (!rc) rc = check(&api_shapes[sh->member], mv, sub, e);
            if (rc) return rc;
        }
        return RC_OK;
    }
    case VT_STRING: {
        if (!json_is_string(v)) return fail(e, path, v, "Member must be a string");
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
            return fail(e, path, v, "Member must not contain NUL characters");
        enum rc rc = check_bounds(sh, (double)utf8_chars(s), v, path, "length", e);
        if (rc) return rc;
        if (sh->enums) {
            for (size_t i = 0; sh->enums[i]; i++)
                if (strcmp(sh->enums[i], s) == 0) return RC_OK;
            char list[300] = "";
            size_t used = 0;
            for (size_t i = 0; sh->enums[i] && used < sizeof(list); i++)
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                         sh->enums[i]);
            return fail(e, path, v, "Member must satisfy enum value set: [%s]", list);
        }
        if (!pattern_match(sh->pattern, s))
            return fail(e, path, v, "Member must satisfy regular expression pattern: %s",
                        pattern_text(sh->pattern));
        return RC_OK;
    }
    case VT_INTEGER:
        if (!json_is_integer(v)) return fail(e, path, v, "Member must be an integer");
        return check_bounds(sh, (double)json_integer_value(v), v, path, "", e);
    case VT_DOUBLE:
    case VT_TIMESTAMP:
        if (!json_is_number(v)) return fail(e, path, v, "Member must be a number");
        return check_bounds(sh, json_number_value(v), v, path, "", e);
    case VT_BOOLEAN:
        if (!json_is_boolean(v)) return fail(e, path, v, "Member must be a boolean");
        return RC_OK;
    }
    return RC_OK;
}

enum rc api_validate(const char *op, const json_t *req, struct err *e)
{
    for (size_t i = 0; i < api_model_nops; i++) {
        if (strcmp(api_model_ops[i].name, op) != 0) continue;
        if (api_model_ops[i].input < 0) return RC_OK;
        json_t *empty = NULL;
        if (!req) req = empty = json_object();
        enum rc rc = check(&api_shapes[api_model_ops[i].input], req, "", e);
        json_decref(empty);
        return rc;
    }
    return err_set(e, RC_NOT_FOUND, "operation %s is not in the Personalize model", op);
}

bool api_name_valid(const char *s)
{
    return s && utf8_chars(s) >= 1 && utf8_chars(s) <= 63 && match_name(s);
}
