/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NSS database backend of the trust stores (nss.c), for the table of
 * backends in trust.c. The directory holds cert9.db, as Firefox and
 * Chromium profiles do; every access goes through NSS itself.
 */
#ifndef EVC_STORE_NSS_H
#define EVC_STORE_NSS_H

#include "evercert/stores.h"

/* "nss:DIR" and "sql:DIR" name an NSS database; the directory part, or NULL for another path. */
const char *evc_nss_path(const char *path);
/* 1 if dir is a directory holding an NSS database (cert9.db), else 0. */
int evc_nss_detect(const char *dir);

/*
 * The certificates of the database at t->path with SSL trust: trusted
 * (C or P) as they are, distrusted (p without C or P) with a serverAuth
 * reject mark so they anchor nothing; certificates without SSL trust
 * flags (cached intermediates, S/MIME only) are not listed. Each entry's
 * file is its nickname. Opened read-only.
 */
int evc_nss_load(struct evc_trust *t, struct evc_err *err);
/*
 * Add t->certs[t->n - 1] (x) as "evercert <16 hex of its SHA-256>" with
 * the trust its kind needs: a CA "C,,", any other certificate "CP,,".
 */
int evc_nss_add(struct evc_trust *t, X509 *x, struct evc_err *err);
/* Delete certs[i] if evercert added it (its nickname says so); another entry is kept untouched. */
int evc_nss_remove(struct evc_trust *t, size_t i, struct evc_err *err);

#endif
