/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text tables for people: rows are kept until printed, so each column is
 * as wide as its widest cell (up to EVC_TABLE_WIDTH_MAX characters; a
 * longer cell pushes its own row only). Cells are printed as given:
 * escape untrusted text first (evc_text_vis).
 */
#ifndef EVC_BASE_TABLE_H
#define EVC_BASE_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define EVC_TABLE_COLS_MAX 12

struct evc_table {
    size_t ncols;
    size_t width[EVC_TABLE_COLS_MAX];
    char **cells; /* nrows * ncols copies */
    size_t nrows, cap;
};

/* An empty table of ncols (at most EVC_TABLE_COLS_MAX) columns. */
void evc_table_init(struct evc_table *t, size_t ncols);
/* Copy one row of ncols cells (NULL is ""). 0 or EVC_ERR_NOMEM. */
int evc_table_add(struct evc_table *t, const char *const *cells);
/*
 * Print every row: indent, then the cells separated by gap spaces, each
 * but the last padded to its column's width. 0 or EVC_ERR_IO.
 */
int evc_table_print(const struct evc_table *t, FILE *out, const char *indent, int gap);
/* Forget the rows, keep the columns. */
void evc_table_reset(struct evc_table *t);
void evc_table_free(struct evc_table *t);

/* The width of s on a terminal, in characters (UTF-8 continuation bytes take none). */
size_t evc_text_width(const char *s);

#endif
