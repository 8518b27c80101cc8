/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text tables: every row is kept until the table is printed, so a long
 * store name widens its column instead of shifting the cells after it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evercert/error.h"
#include "evercert/limits.h"
#include "base/table.h"

size_t
evc_text_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++) {
        w += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return w;
}

void
evc_table_init(struct evc_table *t, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols <= EVC_TABLE_COLS_MAX ? ncols : EVC_TABLE_COLS_MAX;
}

int
evc_table_add(struct evc_table *t, const char *const *cells)
{
    size_t base = t->nrows * t->ncols;

    if (t->nrows == t->cap) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;
        char **c;

        if (cap > SIZE_MAX / t->ncols / sizeof(*c) ||
            (c = realloc(t->cells, cap * t->ncols * sizeof(*c))) == NULL) {
            return EVC_ERR_NOMEM;
        }
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        size_t w;

        if ((t->cells[base + i] = strdup(cells[i] != NULL ? cells[i] : "")) == NULL) {
            while (i-- > 0) {
                free(t->cells[base + i]);
            }
            return EVC_ERR_NOMEM;
        }
        w = evc_text_width(t->cells[base + i]);
        if (w > t->width[i]) {
            t->width[i] = w < EVC_TABLE_WIDTH_MAX ? w : EVC_TABLE_WIDTH_MAX;
        }
    }
    t->nrows++;
    return 0;
}

int
evc_table_print(const struct evc_table *t, FILE *out, const char *indent, int gap)
{
    for (size_t r = 0; r < t->nrows; r++) {
        if (fputs(indent, out) == EOF) {
            return EVC_ERR_IO;
        }
        char *const *row = &t->cells[r * t->ncols];
        size_t last = t->ncols;

        /* Empty cells at the end print nothing, not a tail of blanks. */
        while (last > 1 && row[last - 1][0] == '\0') {
            last--;
        }
        for (size_t i = 0; i < last; i++) {
            const char *s = row[i];
            size_t w = evc_text_width(s);
            int pad = i + 1 == last ? 0 : (w < t->width[i] ? (int)(t->width[i] - w) : 0) + gap;

            if (fprintf(out, "%s%*s", s, pad, "") < 0) {
                return EVC_ERR_IO;
            }
        }
        if (fputc('\n', out) == EOF) {
            return EVC_ERR_IO;
        }
    }
    return 0;
}

void
evc_table_reset(struct evc_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    t->nrows = 0;
    memset(t->width, 0, sizeof(t->width));
}

void
evc_table_free(struct evc_table *t)
{
    evc_table_reset(t);
    free(t->cells);
    t->cells = NULL;
    t->cap = 0;
}
