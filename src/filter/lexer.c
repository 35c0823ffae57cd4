/*
 * lexer.c: filter expression text -> tokens.
 *
 * Words are [A-Za-z_][A-Za-z0-9_]*; the parser decides which are keywords.
 * Strings are double-quoted with \" and \\ escapes. Numbers are decimal with
 * an optional sign, fraction and exponent. Columns are 1-based byte offsets.
 */
#include "common/base.h"
#include "filter/filter_int.h"

#include <ctype.h>
#include <math.h>

static bool word_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static void lex_string(struct flexer *lx, struct ftoken *t)
{
    size_t i = lx->pos + 1;
    char *out = xmalloc(lx->len - lx->pos + 1);
    size_t n = 0;
    while (i < lx->len && lx->text[i] != '"') {
        if (lx->text[i] == '\\' && i + 1 < lx->len &&
            (lx->text[i + 1] == '"' || lx->text[i + 1] == '\\'))
            i++;
        out[n++] = lx->text[i++];
    }
    if (i >= lx->len) {
        free(out);
        t->kind = TK_ERROR;
        t->why = "unterminated string (a \" is missing)";
        t->len = lx->len - lx->pos;
        lx->pos = lx->len;
        return;
    }
    out[n] = 0;
    t->kind = TK_STRING;
    t->str = out;
    t->len = i + 1 - lx->pos;
    lx->pos = i + 1;
}

static void lex_number(struct flexer *lx, struct ftoken *t)
{
    size_t i = lx->pos;
    if (lx->text[i] == '-' || lx->text[i] == '+') i++;
    size_t digits = 0;
    while (i < lx->len && isdigit((unsigned char)lx->text[i]))
        i++, digits++;
    if (i < lx->len && lx->text[i] == '.') {
        i++;
        while (i < lx->len && isdigit((unsigned char)lx->text[i]))
            i++, digits++;
    }
    if (digits && i < lx->len && (lx->text[i] == 'e' || lx->text[i] == 'E')) {
        size_t j = i + 1;
        if (j < lx->len && (lx->text[j] == '-' || lx->text[j] == '+')) j++;
        if (j < lx->len && isdigit((unsigned char)lx->text[j])) {
            i = j;
            while (i < lx->len && isdigit((unsigned char)lx->text[i]))
                i++;
        }
    }
    if (!digits || (i < lx->len && word_char(lx->text[i]))) {
        while (i < lx->len && (word_char(lx->text[i]) || lx->text[i] == '.'))
            i++;
        t->kind = TK_ERROR;
        t->why = "not a number";
        t->len = i - lx->pos;
        lx->pos = i;
        return;
    }
    char buf[64];
    size_t n = MIN(i - lx->pos, sizeof(buf) - 1);
    memcpy(buf, lx->text + lx->pos, n);
    buf[n] = 0;
    t->number = strtod(buf, NULL);
    t->kind = isfinite(t->number) ? TK_NUMBER : TK_ERROR;
    t->why = "number out of range";
    t->len = i - lx->pos;
    lx->pos = i;
}

void flexer_next(struct flexer *lx, struct ftoken *t)
{
    while (lx->pos < lx->len && isspace((unsigned char)lx->text[lx->pos]))
        lx->pos++;
    memset(t, 0, sizeof(*t));
    t->p = lx->text + lx->pos;
    t->col = (uint32_t)lx->pos + 1;
    if (lx->pos >= lx->len) {
        t->kind = TK_END;
        return;
    }
    char c = lx->text[lx->pos];
    char next = lx->pos + 1 < lx->len ? lx->text[lx->pos + 1] : 0;
    t->len = 1;
    switch (c) {
    case '.':
        t->kind = TK_DOT;
        break;
    case '(':
        t->kind = TK_LPAREN;
        break;
    case ')':
        t->kind = TK_RPAREN;
        break;
    case ',':
        t->kind = TK_COMMA;
        break;
    case '|':
        t->kind = TK_PIPE;
        break;
    case '*':
        t->kind = TK_STAR;
        break;
    case '=':
        t->kind = TK_EQ;
        break;
    case '<':
    case '>':
        t->kind = next == '=' ? (c == '<' ? TK_LE : TK_GE) : (c == '<' ? TK_LT : TK_GT);
        t->len = next == '=' ? 2 : 1;
        break;
    case '"':
        lex_string(lx, t);
        return;
    case '$': {
        size_t i = lx->pos + 1;
        while (i < lx->len && word_char(lx->text[i]))
            i++;
        if (i == lx->pos + 1) {
            t->kind = TK_ERROR;
            t->why = "a parameter needs a name after '$'";
            break;
        }
        t->kind = TK_PARAM;
        t->str = xstrndup(lx->text + lx->pos + 1, i - lx->pos - 1);
        t->len = i - lx->pos;
        lx->pos = i;
        return;
    }
    default:
        if (isdigit((unsigned char)c) ||
            ((c == '-' || c == '+') && (isdigit((unsigned char)next) || next == '.'))) {
            lex_number(lx, t);
            return;
        }
        if (word_start(c)) {
            size_t i = lx->pos;
            while (i < lx->len && word_char(lx->text[i]))
                i++;
            t->kind = TK_IDENT;
            t->len = i - lx->pos;
            lx->pos = i;
            return;
        }
        t->kind = TK_ERROR;
        t->why = "unexpected character";
        break;
    }
    lx->pos += t->len;
}
