/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small INI reader: hands out each section header and each key = value
 * with the line it is on. Pure (no I/O, no clock, no globals) and linear
 * in the text's length.
 */
#ifndef EVC_CONFIG_INI_H
#define EVC_CONFIG_INI_H

#include <stddef.h>

struct evc_ini_item {
    unsigned long line;
    const char *section; /* the header's text between [ and ]; NULL before the first */
    const char *name;    /* NULL for a section header */
    const char *value;
};

/* Returns 0 to go on; anything else stops the reader, which returns it. */
typedef int (*evc_ini_fn)(void *arg, const struct evc_ini_item *it);

/*
 * Read text (len bytes, no NUL inside, and text[len] writable: a value
 * that ends the text is ended there; changed in place: the strings
 * handed out point into it). Returns 0, what fn returned when it was not
 * 0, or -1 on a line that is not INI, with *line and *why saying where
 * and what.
 */
int evc_ini_parse(char *text, size_t len, evc_ini_fn fn, void *arg, unsigned long *line,
                  const char **why);

#endif
