/* SPDX-License-Identifier: Apache-2.0 */
/* What the configuration layer's files share: the key table as C and the parser's state. */
#ifndef EVC_CONFIG_INT_H
#define EVC_CONFIG_INT_H

#include <stddef.h>

#include "evercert/config.h"
#include "config/keys.h"

#define EVC_T_ENUM(t, form, words) EVC_KT_##t,
enum evc_key_type { EVC_CONFIG_TYPES(EVC_T_ENUM) EVC_KT_COUNT };
#undef EVC_T_ENUM

#define EVC_S_ENUM(s, name, what, doc) EVC_SEC_##s,
enum evc_section { EVC_CONFIG_SECTIONS(EVC_S_ENUM) EVC_SEC_COUNT };
#undef EVC_S_ENUM

/* EVC_KEY_<SECTION>_<name>: a key's index in the table. */
#define EVC_K_ENUM(sec, name, type, field, min, max, dflt, reload, doc) EVC_KEY_##sec##_##name,
enum { EVC_CONFIG_KEYS(EVC_K_ENUM) EVC_CONFIG_NKEYS };
#undef EVC_K_ENUM

/* The plain sections are remembered in a bit mask, to refuse one given twice. */
_Static_assert(EVC_SEC_COUNT <= 32, "the sections fit the parser's mask of seen sections");

struct evc_key_def {
    enum evc_section section;
    const char *name;
    enum evc_key_type type;
    size_t offset; /* into the section's struct */
    int min, max;  /* bounds of an INT */
    const char *dflt;
    int reloadable;
    const char *doc;
};

extern const struct evc_key_def evc_config_keys[EVC_CONFIG_NKEYS];

struct evc_parser {
    struct evc_config *c;
    const char *name;
    const char *dir;
    struct evc_err *err;
    unsigned long line;             /* of the item being handled */
    struct evc_store_conf *cur;     /* the store being read, when section is EVC_SEC_STORE */
    struct evc_server_conf *curv;   /* the server being read, when section is EVC_SEC_SERVER */
    struct evc_endpoint_conf *cure; /* the endpoint being read, when section is EVC_SEC_ENDPOINT */
    enum evc_section section;
    int in_section;         /* a header was read */
    unsigned seen_sections; /* bit per plain section, to refuse one given twice */
    /* Keys set in the current section, by index: no cap on how many keys a section has. */
    unsigned char seen[EVC_CONFIG_NKEYS];
    int failed;
};

int evc_config_fail(struct evc_parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Set a key from text into base (the section's struct). 1 or, on failure, 0. */
int evc_config_set(struct evc_parser *ps, const struct evc_key_def *k, void *base, const char *v);
/* Apply the table's defaults of one section to base. */
int evc_config_defaults(struct evc_parser *ps, enum evc_section sec, void *base);
/* What only the whole file can tell; 1 or, with the failure told, 0. */
int evc_config_validate(struct evc_parser *ps);

#endif
