/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Passwords for keystores. They come from a file (first line, without its
 * line ending) or from the environment, never from argv where any user can
 * read them in the process list; they are wiped when freed.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/file.h"
#include "cli.h"
#include "evercert/limits.h"

static int
secret_set(struct evc_secret *s, const char *p, size_t n, const char *what)
{
    if (n > EVC_PASSWORD_MAX) {
        evc_cli_error(what, "password longer than %d bytes", EVC_PASSWORD_MAX);
        return -1;
    }
    if ((s->value = malloc(n + 1)) == NULL) {
        evc_cli_error(what, "out of memory");
        return -1;
    }
    memcpy(s->value, p, n);
    s->value[n] = '\0';
    s->len = n;
    return 0;
}

int
evc_secret_from_file(struct evc_secret *s, const char *path)
{
    struct evc_buf b;
    struct evc_err e = {0};
    const char *nl;
    size_t n;
    int r = -1;

    evc_buf_init(&b, EVC_PASSWORD_MAX + 4);
    if (evc_file_read(path, EVC_PASSWORD_MAX + 2, &b, &e) != 0) {
        evc_cli_error(path, "%s", evc_err_message(&e));
        goto out;
    }
    n = b.len;
    if ((nl = memchr(b.data, '\n', b.len)) != NULL) {
        n = (size_t)(nl - (const char *)b.data);
    }
    if (n > 0 && b.data[n - 1] == '\r') {
        n--;
    }
    if (memchr(b.data, '\0', n) != NULL) {
        evc_cli_error(path, "password contains a NUL byte");
        goto out;
    }
    r = secret_set(s, (const char *)b.data, n, path);
out:
    evc_buf_free(&b); /* wipes */
    return r;
}

int
evc_secret_from_env(struct evc_secret *s, const char *var)
{
    const char *v = getenv(var);

    if (v == NULL) {
        evc_cli_error(var, "environment variable is not set");
        return -1;
    }
    return secret_set(s, v, strlen(v), var);
}

void
evc_secret_free(struct evc_secret *s)
{
    if (s->value != NULL) {
        OPENSSL_cleanse(s->value, s->len);
        free(s->value);
    }
    s->value = NULL;
    s->len = 0;
}
