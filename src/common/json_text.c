/*
 * json_text.c: compact JSON text of a jansson value (see json_text.h).
 *
 * Reals: in the range "%.Pg" prints without an exponent (1e-5 <= |x| <
 * 10^P, after rounding), x = m 2^ex exactly (m < 2^53) is scaled to P
 * digits with 128-bit integers and rounded half to even, as glibc rounds
 * the exact binary value; other reals go through snprintf. Then jansson's
 * own touches: ".0" after what would read back as an integer, and an
 * exponent without '+' or leading zeros.
 */
#include "common/base.h"
#include "common/json_text.h"

#include <math.h>

static const uint64_t pow10_u64[] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL};

/*
 * round(|x| * 10^p) with |x| = m 2^ex, half to even; p in [0, 18]. Returns
 * false if it does not fit in 64 bits.
 */
static bool scaled_digits(uint64_t m, int ex, int p, uint64_t *out)
{
    unsigned __int128 n = (unsigned __int128)m * pow10_u64[p];
    if (ex >= 0) {
        if (ex > 60 || (n >> (127 - ex)) != 0) return false;
        n <<= ex;
        if (n >> 64) return false;
        *out = (uint64_t)n;
        return true;
    }
    int s = -ex;
    if (s >= 127) {
        *out = 0; /* far below one unit: rounds to 0 */
        return true;
    }
    unsigned __int128 q = n >> s, r = n - (q << s), half = (unsigned __int128)1 << (s - 1);
    if (r > half || (r == half && (q & 1))) q++;
    if (q >> 64) return false;
    *out = (uint64_t)q;
    return true;
}

/* jansson's fix-ups of printf's text (see jsonp_dtostr). */
static enum rc append_printf_real(struct buf *b, double x, int precision)
{
    char tmp[64];
    int len = snprintf(tmp, sizeof(tmp), "%.*g", precision, x);
    if (len < 0 || (size_t)len >= sizeof(tmp)) return RC_INVALID_INPUT;
    if (!strpbrk(tmp, ".eE")) {
        if (len + 2 >= (int)sizeof(tmp)) return RC_INVALID_INPUT;
        memcpy(tmp + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(tmp, 'e');
    if (e) { /* "1e+05" -> "1e5", "1e-05" -> "1e-5" */
        char *p = e + 1, *d = p;
        if (*p == '-') d = ++p;
        if (*p == '+') ++p;
        while (*p == '0' && p[1])
            ++p;
        memmove(d, p, strlen(p) + 1);
        len = (int)strlen(tmp);
    }
    return buf_add(b, tmp, (size_t)len);
}

enum rc json_text_real(struct buf *b, double x, int precision)
{
    if (!isfinite(x)) return RC_INVALID_INPUT;
    if (precision < 1 || precision > 17) precision = 17;
    double ax = fabs(x);
    if (ax == 0.0) return buf_addstr(b, signbit(x) ? "-0.0" : "0.0");
    if (!(ax >= 1e-5 && ax < 1e17)) return append_printf_real(b, x, precision);
    int ex2;
    double frac = frexp(ax, &ex2); /* ax = frac 2^ex2, frac in [0.5, 1) */
    uint64_t m = (uint64_t)ldexp(frac, 53);
    int ex = ex2 - 53;
    /* The decimal exponent, corrected below if log10 is off at a boundary. */
    int e = (int)floor(log10(ax));
    uint64_t q = 0;
    for (int tries = 0; tries < 3; tries++) {
        int p = precision - 1 - e;
        if (p < 0 || p > 18 || !scaled_digits(m, ex, p, &q))
            return append_printf_real(b, x, precision);
        if (q >= pow10_u64[precision])
            e++;
        else if (q < pow10_u64[precision - 1])
            e--;
        else
            break;
    }
    if (q < pow10_u64[precision - 1] || q >= pow10_u64[precision])
        return append_printf_real(b, x, precision);
    /* %g: exponent notation below 1e-4 or from 10^precision on. */
    if (e < -4 || e >= precision) return append_printf_real(b, x, precision);
    char digits[24];
    for (int i = precision - 1; i >= 0; i--) {
        digits[i] = (char)('0' + q % 10);
        q /= 10;
    }
    int nd = precision;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char out[48];
    int len = 0;
    if (x < 0) out[len++] = '-';
    if (e >= 0) {
        for (int i = 0; i <= e; i++)
            out[len++] = i < nd ? digits[i] : '0';
        if (nd > e + 1) {
            out[len++] = '.';
            for (int i = e + 1; i < nd; i++)
                out[len++] = digits[i];
        } else {
            out[len++] = '.'; /* jansson: a real must not read back as an integer */
            out[len++] = '0';
        }
    } else {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = 0; i < -e - 1; i++)
            out[len++] = '0';
        for (int i = 0; i < nd; i++)
            out[len++] = digits[i];
    }
    return buf_add(b, out, (size_t)len);
}

enum rc json_text_string(struct buf *b, const char *s, size_t n)
{
    enum rc rc = buf_addch(b, '"');
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            run++;
            continue;
        }
        if (run) rc = buf_add(b, s + i - run, run);
        run = 0;
        if (rc) break;
        char esc[8];
        switch (ch) {
        case '"':
            rc = buf_add(b, "\\\"", 2);
            break;
        case '\\':
            rc = buf_add(b, "\\\\", 2);
            break;
        case '\b':
            rc = buf_add(b, "\\b", 2);
            break;
        case '\f':
            rc = buf_add(b, "\\f", 2);
            break;
        case '\n':
            rc = buf_add(b, "\\n", 2);
            break;
        case '\r':
            rc = buf_add(b, "\\r", 2);
            break;
        case '\t':
            rc = buf_add(b, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", ch);
            rc = buf_add(b, esc, 6);
        }
    }
    if (!rc && run) rc = buf_add(b, s + n - run, run);
    return rc ? rc : buf_addch(b, '"');
}

static enum rc append_integer(struct buf *b, json_int_t v)
{
    char tmp[24];
    int len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[sizeof(tmp) - 1 - len++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[sizeof(tmp) - 1 - len++] = '-';
    return buf_add(b, tmp + sizeof(tmp) - len, (size_t)len);
}

enum rc json_text_append(struct buf *b, const json_t *v, int precision)
{
    enum rc rc = RC_OK;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        bool first = true;
        rc = buf_addch(b, '{');
        json_object_foreach((json_t *)v, key, val)
        {
            if (!rc && !first) rc = buf_addch(b, ',');
            first = false;
            if (!rc) rc = json_text_string(b, key, strlen(key));
            if (!rc) rc = buf_addch(b, ':');
            if (!rc) rc = json_text_append(b, val, precision);
            if (rc) break;
        }
        return rc ? rc : buf_addch(b, '}');
    }
    case JSON_ARRAY:
        rc = buf_addch(b, '[');
        for (size_t i = 0; i < json_array_size(v) && !rc; i++) {
            if (i) rc = buf_addch(b, ',');
            if (!rc) rc = json_text_append(b, json_array_get(v, i), precision);
        }
        return rc ? rc : buf_addch(b, ']');
    case JSON_STRING:
        return json_text_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return append_integer(b, json_integer_value(v));
    case JSON_REAL:
        return json_text_real(b, json_real_value(v), precision);
    case JSON_TRUE:
        return buf_addstr(b, "true");
    case JSON_FALSE:
        return buf_addstr(b, "false");
    case JSON_NULL:
        return buf_addstr(b, "null");
    }
    return RC_INVALID_INPUT;
}
