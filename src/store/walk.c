/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Walking the paths a user named. Links are followed (trust directories
 * are made of them), every file and directory is identified by device and
 * inode so it is visited once, and a directory that leads back to one being
 * walked is skipped rather than followed forever.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/file.h"
#include "evercert/limits.h"
#include "evercert/store.h"

struct inode_set {
    struct inode_key {
        dev_t dev;
        ino_t ino;
    } * slots;
    size_t cap, used;
};

struct walk {
    const struct evc_walk_cb *cb;
    struct inode_set seen;
};

static size_t
inode_hash(dev_t dev, ino_t ino)
{
    uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;

    return (size_t)(h ^ (h >> 29));
}

/* 1 if newly added, 0 if already there, EVC_ERR_NOMEM. Inode 0 marks a free slot. */
static int
inode_add(struct inode_set *s, dev_t dev, ino_t ino)
{
    size_t i;

    if (s->used * 2 >= s->cap) {
        struct inode_set n = {NULL, s->cap ? s->cap * 2 : 1024, 0};

        if ((n.slots = calloc(n.cap, sizeof(*n.slots))) == NULL) {
            return EVC_ERR_NOMEM;
        }
        for (i = 0; i < s->cap; i++) {
            if (s->slots[i].ino != 0) {
                (void)inode_add(&n, s->slots[i].dev, s->slots[i].ino);
            }
        }
        free(s->slots);
        *s = n;
    }
    /* A real inode 0 does not occur on Linux file systems; map it anyway. */
    ino = ino ? ino : (ino_t)-1;
    for (i = inode_hash(dev, ino) & (s->cap - 1); s->slots[i].ino != 0;
         i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i].ino == ino && s->slots[i].dev == dev) {
            return 0;
        }
    }
    s->slots[i].dev = dev;
    s->slots[i].ino = ino;
    s->used++;
    return 1;
}

static int
report(struct walk *w, const char *path, int code, const char *why)
{
    struct evc_err e = {0};

    evc_err_set(&e, code, "%s", why);
    return w->cb->error(w->cb->arg, path, &e);
}

static int
has_cert_extension(const char *name)
{
    static const char *const exts[] = {".pem", ".crt",   ".cer",      ".der",
                                       ".p12", ".pfx",   ".p7b",      ".p7c",
                                       ".jks", ".jceks", ".keystore", ".truststore"};
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t e = strlen(exts[i]);

        if (n > e && strcasecmp(name + n - e, exts[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* OpenSSL's c_rehash names: eight hex digits, a dot, an optional r, a number. */
static int
is_hash_link(const char *name)
{
    size_t i;

    for (i = 0; i < 8; i++) {
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) {
            return 0;
        }
    }
    if (name[i++] != '.') {
        return 0;
    }
    if (name[i] == 'r') {
        i++;
    }
    if (name[i] < '0' || name[i] > '9') {
        return 0;
    }
    while (name[i] >= '0' && name[i] <= '9') {
        i++;
    }
    return name[i] == '\0';
}

static int
entry_order(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int hx = is_hash_link(x), hy = is_hash_link(y);

    return hx != hy ? hx - hy : strcmp(x, y);
}

static const char *
special_kind(mode_t m)
{
    return S_ISFIFO(m)   ? "a FIFO, not a regular file"
           : S_ISSOCK(m) ? "a socket, not a regular file"
                         : "a device, not a regular file";
}

static int visit(struct walk *w, const char *path, const char *name, int depth);

static int
walk_dir(struct walk *w, const char *path, int depth)
{
    DIR *d = NULL;
    struct dirent *de;
    char **names = NULL, full[EVC_PATH_MAX];
    size_t n = 0, cap = 0;
    int r = 0;

    if ((d = opendir(path)) == NULL) {
        return report(w, path, evc_errno_code(errno), strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            char **nn;

            cap = cap ? cap * 2 : 64;
            if ((nn = realloc(names, cap * sizeof(*names))) == NULL) {
                r = EVC_ERR_NOMEM;
                goto out;
            }
            names = nn;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            r = EVC_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    if (n > 0) {
        qsort(names, n, sizeof(*names), entry_order);
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        int len = snprintf(full, sizeof(full), "%s%s%s", path,
                           path[strlen(path) - 1] == '/' ? "" : "/", names[i]);

        if (len < 0 || (size_t)len >= sizeof(full)) {
            r = report(w, path, EVC_ERR_LIMIT, "path too long");
            continue;
        }
        r = visit(w, full, names[i], depth + 1);
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    closedir(d);
    return r;
}

/* name is the entry name inside a walked directory, or NULL for a path the user named. */
static int
visit(struct walk *w, const char *path, const char *name, int depth)
{
    struct stat st, lst;
    int r;

    if (stat(path, &st) == -1) {
        int e = errno;

        if (e == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
            return report(w, path, EVC_ERR_NOENT, "broken symbolic link");
        }
        return report(w, path, evc_errno_code(e), strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth >= EVC_WALK_DEPTH_MAX) {
            return report(w, path, EVC_ERR_TOO_DEEP, "directories nested too deeply");
        }
        if ((r = inode_add(&w->seen, st.st_dev, st.st_ino)) <= 0) {
            return r; /* seen before: a link back into the walk, or named twice */
        }
        return walk_dir(w, path, depth);
    }
    if (!S_ISREG(st.st_mode)) {
        return report(w, path, EVC_ERR_NOT_REGULAR, special_kind(st.st_mode));
    }
    if ((r = inode_add(&w->seen, st.st_dev, st.st_ino)) <= 0) {
        return r;
    }
    return w->cb->file(w->cb->arg, path, name == NULL || has_cert_extension(name));
}

int
evc_store_walk(const char *const *paths, size_t npaths, const struct evc_walk_cb *cb)
{
    struct walk w = {cb, {NULL, 0, 0}};
    int r = 0;

    for (size_t i = 0; i < npaths && r == 0; i++) {
        r = visit(&w, paths[i], NULL, 0);
    }
    free(w.seen.slots);
    return r;
}
