/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The INI syntax the configuration file has always had (it was read with
 * inih, built with its defaults): comments are lines starting with ';' or
 * '#', and ';' after a blank ends a value; blanks around names and values
 * go; a name ends at the first '=' or ':'; anything after a header's ']'
 * is ignored; a UTF-8 byte order mark may start the file. An indented
 * line right after a key continued that key's value in inih, which the
 * file then refused as the key given twice; values are one line, so it is
 * refused here, at its own line.
 */
#include <string.h>

#include "evercert/limits.h"
#include "config/ini.h"

static int
blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The end of [s, end) without trailing blanks. */
static char *
rstrip(char *s, char *end)
{
    while (end > s && blank(end[-1])) {
        end--;
    }
    return end;
}

/*
 * The first of chars in [s, end), or an inline comment: ';' after a
 * blank. end when there is neither.
 */
static char *
find_or_comment(char *s, char *end, const char *chars)
{
    int was_blank = 0;

    for (; s < end; s++) {
        if ((chars != NULL && strchr(chars, *s) != NULL) || (was_blank && *s == ';')) {
            return s;
        }
        was_blank = blank(*s);
    }
    return end;
}

int
evc_ini_parse(char *text, size_t len, evc_ini_fn fn, void *arg, unsigned long *line,
              const char **why)
{
    char *p = text, *end = text + len;
    const char *section = NULL;
    int have_key = 0, r;
    struct evc_ini_item it;

    *line = 0;
    *why = NULL;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
    }
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl != NULL ? nl : end, *s = p, *e;

        ++*line;
        if ((size_t)(eol - p) > EVC_CONFIG_LINE_MAX) {
            *why = "line too long";
            return -1;
        }
        e = rstrip(p, eol);
        while (s < e && blank(*s)) {
            s++;
        }
        memset(&it, 0, sizeof(it));
        it.line = *line;
        if (s == e || *s == ';' || *s == '#') {
            /* A blank line or a comment. */
        } else if (have_key && s > p) {
            *why = "an indented line continues the value above; a value is one line";
            return -1;
        } else if (*s == '[') {
            char *close = find_or_comment(s + 1, e, "]");

            if (close == e || *close != ']') {
                *why = "a section header without ']'";
                return -1;
            }
            *close = '\0';
            section = s + 1;
            have_key = 0;
            it.section = section;
            if ((r = fn(arg, &it)) != 0) {
                return r;
            }
        } else {
            char *eq = find_or_comment(s, e, "=:"), *v;

            if (eq == e || (*eq != '=' && *eq != ':')) {
                *why = "not a section, a key = value or a comment";
                return -1;
            }
            *rstrip(s, eq) = '\0';
            v = eq + 1;
            e = rstrip(v, find_or_comment(v, e, NULL));
            while (v < e && blank(*v)) {
                v++;
            }
            *e = '\0';
            have_key = 1;
            it.section = section;
            it.name = s;
            it.value = v;
            if ((r = fn(arg, &it)) != 0) {
                return r;
            }
        }
        p = nl != NULL ? nl + 1 : end;
    }
    return 0;
}
