/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Atomic, durable file changes and the per-configuration lock. Every step
 * that changes the disk first passes evc_fault_point(), so the crash test
 * can stop the process at each of them in turn. The single writes, the
 * versioned key+certificate pair and the batch share the temporary-file,
 * keep-mode-and-owner and directory-sync steps, so they stay in one file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evercert/buf.h"
#include "evercert/limits.h"
#include "base/atomic.h"
#include "base/file.h"

void (*evc_fault_hook)(unsigned long step);
static unsigned long fault_steps;

void
evc_fault_point(void)
{
    fault_steps++;
    if (evc_fault_hook != NULL) {
        evc_fault_hook(fault_steps);
    }
}

static int
sys_err(struct evc_err *err, const char *what, const char *path)
{
    int e = errno;

    return evc_err_set(err, evc_errno_code(e), "%s: %s: %s", path, what, strerror(e));
}

/* The directory part of path, into out (PATH_MAX). */
static void
dir_of(const char *path, char *out, size_t outsz)
{
    char tmp[EVC_PATH_MAX];

    (void)evc_path_fmt(tmp, sizeof(tmp), "%s", path);
    (void)evc_path_fmt(out, outsz, "%s", dirname(tmp));
}

static void
base_of(const char *path, char *out, size_t outsz)
{
    char tmp[EVC_PATH_MAX];

    (void)evc_path_fmt(tmp, sizeof(tmp), "%s", path);
    (void)evc_path_fmt(out, outsz, "%s", basename(tmp));
}

static int
sync_dir(const char *dir, struct evc_err *err)
{
    int fd, r = 0;

    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
        return sys_err(err, "open directory", dir);
    }
    if (fsync(fd) == -1) {
        r = sys_err(err, "fsync", dir);
    }
    close(fd);
    return r;
}

int
evc_sync_parent(const char *path, struct evc_err *err)
{
    char dir[EVC_PATH_MAX];

    dir_of(path, dir, sizeof(dir));
    return sync_dir(dir, err);
}

/* Write all of data to fd, then fsync it. */
static int
write_all(int fd, const void *data, size_t len, const char *path, struct evc_err *err)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return sys_err(err, "write", path);
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) == -1) {
        return sys_err(err, "fsync", path);
    }
    return 0;
}

/*
 * What a replaced file keeps: the mode, owner and group of the file it
 * replaces, or mode and the process's own for a new one.
 */
struct keep {
    mode_t mode;
    uid_t uid;
    gid_t gid;
    int have; /* uid and gid are set: the target exists */
};

/*
 * Open tmp exclusively, private until its owner and mode are right, so no
 * one else can open it in between; the umask may have narrowed the mode
 * and, for keys, must never widen it.
 */
static int
open_temp(const char *tmp, const struct keep *k, int *fdp, struct evc_err *err)
{
    struct stat st;
    int fd, r = 0;

    *fdp = -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd == -1) {
        return errno == EEXIST ? evc_err_set(err, EVC_ERR_EXISTS, "%s: already exists", tmp)
                               : sys_err(err, "create", tmp);
    }
    if (k->have && fstat(fd, &st) == 0 && (st.st_uid != k->uid || st.st_gid != k->gid) &&
        fchown(fd, st.st_uid == k->uid ? (uid_t)-1 : k->uid,
               st.st_gid == k->gid ? (gid_t)-1 : k->gid) == -1) {
        int e = errno;

        r = evc_err_set(err, evc_errno_code(e), "%s: cannot keep owner %lu:%lu: %s", tmp,
                        (unsigned long)k->uid, (unsigned long)k->gid, strerror(e));
    } else if (fchmod(fd, k->mode) == -1) {
        r = sys_err(err, "chmod", tmp);
    }
    if (r != 0) {
        close(fd);
        unlink(tmp);
        return r;
    }
    *fdp = fd;
    return 0;
}

/* Create path exclusively with k's mode and owner and write data to it durably. */
static int
create_kept(const char *path, const void *data, size_t len, const struct keep *k,
            struct evc_err *err)
{
    int fd, r;

    evc_fault_point();
    if ((r = open_temp(path, k, &fd, err)) != 0) {
        return r;
    }
    r = write_all(fd, data, len, path, err);
    close(fd);
    if (r != 0) {
        unlink(path);
    }
    return r;
}

/* Create path exclusively with mode and write data to it durably. */
static int
create_file(const char *path, const void *data, size_t len, mode_t mode, struct evc_err *err)
{
    struct keep k = {mode, 0, 0, 0};

    return create_kept(path, data, len, &k, err);
}

/*
 * The file a write to path replaces: path itself, or the last target of
 * the symbolic links path is, so that a link stays a link and the file it
 * names gets the new content. A link that names a missing file names the
 * file to create.
 */
static int
resolve_target(const char *path, char *out, size_t outsz, struct evc_err *err)
{
    char cur[EVC_PATH_MAX], next[EVC_PATH_MAX], link[EVC_PATH_MAX], dir[EVC_PATH_MAX];
    struct stat st;

    if (evc_path_fmt(cur, sizeof(cur), "%s", path) != 0) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", path);
    }
    for (int hops = 0;; hops++) {
        ssize_t n;

        if (lstat(cur, &st) == -1) {
            if (errno == ENOENT) {
                break;
            }
            return sys_err(err, "stat", cur);
        }
        if (!S_ISLNK(st.st_mode)) {
            break;
        }
        if (hops >= EVC_LINK_HOPS_MAX) {
            return evc_err_set(err, EVC_ERR_LOOP, "%s: more than %d symbolic links", path,
                               EVC_LINK_HOPS_MAX);
        }
        if ((n = readlink(cur, link, sizeof(link) - 1)) < 0) {
            return sys_err(err, "read link", cur);
        }
        link[n] = '\0';
        dir_of(cur, dir, sizeof(dir));
        if ((link[0] == '/' ? evc_path_fmt(next, sizeof(next), "%s", link)
                            : evc_path_fmt(next, sizeof(next), "%s/%s", dir, link)) != 0) {
            return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", path);
        }
        memcpy(cur, next, sizeof(cur));
    }
    if (evc_path_fmt(out, outsz, "%s", cur) != 0) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", path);
    }
    return 0;
}

/*
 * Where to write for path (its resolved target and a temporary name
 * beside it) and what to keep of the file there now. Others never get
 * more than mode gives them, so a key written 0600 over a file that was
 * world-readable loses that.
 */
static int
prepare(const char *path, mode_t mode, char *target, char *tmp, struct keep *k, struct evc_err *err)
{
    char dir[EVC_PATH_MAX], base[EVC_PATH_MAX];
    struct stat st;
    int r;

    if ((r = resolve_target(path, target, EVC_PATH_MAX, err)) != 0) {
        return r;
    }
    k->mode = mode;
    k->have = 0;
    if (stat(target, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            return evc_err_set(err, EVC_ERR_NOT_REGULAR, "%s: not a regular file", target);
        }
        k->mode = (st.st_mode & 0770) | (st.st_mode & mode & 0007);
        k->uid = st.st_uid;
        k->gid = st.st_gid;
        k->have = 1;
    } else if (errno != ENOENT) {
        return sys_err(err, "stat", target);
    }
    dir_of(target, dir, sizeof(dir));
    base_of(target, base, sizeof(base));
    if (evc_path_fmt(tmp, EVC_PATH_MAX, "%s/.%s.tmp%ld", dir, base, (long)getpid()) != 0) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", path);
    }
    return 0;
}

int
evc_atomic_write(const char *path, const void *data, size_t len, mode_t mode, struct evc_err *err)
{
    char target[EVC_PATH_MAX], tmp[EVC_PATH_MAX];
    struct keep k;
    int r;

    if ((r = prepare(path, mode, target, tmp, &k, err)) != 0) {
        return r;
    }
    (void)unlink(tmp); /* a leftover of this pid from an earlier crash */
    if ((r = create_kept(tmp, data, len, &k, err)) != 0) {
        return r;
    }
    evc_fault_point();
    if (rename(tmp, target) == -1) {
        r = sys_err(err, "rename", target);
        unlink(tmp);
        return r;
    }
    evc_fault_point();
    return evc_sync_parent(target, err);
}

int
evc_key_file_create(const char *path, const void *data, size_t len, struct evc_err *err)
{
    int r;

    if ((r = create_file(path, data, len, 0600, err)) != 0) {
        return r;
    }
    evc_fault_point();
    return evc_sync_parent(path, err);
}

int
evc_atomic_symlink(const char *target, const char *linkpath, struct evc_err *err)
{
    char tmp[EVC_PATH_MAX];
    int r;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%ld", linkpath, (long)getpid()) >= sizeof(tmp)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", linkpath);
    }
    (void)unlink(tmp);
    evc_fault_point();
    if (symlink(target, tmp) == -1) {
        return sys_err(err, "symlink", tmp);
    }
    evc_fault_point();
    if (rename(tmp, linkpath) == -1) {
        r = sys_err(err, "rename", linkpath);
        unlink(tmp);
        return r;
    }
    evc_fault_point();
    return evc_sync_parent(linkpath, err);
}

int
evc_durable_unlink(const char *path, struct evc_err *err)
{
    evc_fault_point();
    if (unlink(path) == -1) {
        if (errno == ENOENT) {
            return 0;
        }
        return sys_err(err, "remove", path);
    }
    evc_fault_point();
    return evc_sync_parent(path, err);
}

int
evc_mkdirs(const char *path, mode_t mode, struct evc_err *err)
{
    char p[EVC_PATH_MAX];
    size_t n;
    struct stat st;

    if ((n = strlen(path)) == 0 || n >= sizeof(p)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: bad directory path", path);
    }
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') {
            continue;
        }
        p[i] = '\0';
        if (stat(p, &st) == -1) {
            evc_fault_point();
            if (mkdir(p, mode) == -1) {
                if (errno != EEXIST) {
                    return sys_err(err, "mkdir", p);
                }
            } else if (chmod(p, mode) == -1) {
                /* The umask narrowed it (UMask=0077 in the units); a web root's must be readable.
                 */
                return sys_err(err, "chmod", p);
            }
            if (evc_sync_parent(p, err) != 0) {
                return err != NULL ? err->code : EVC_ERR_IO;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            return evc_err_set(err, EVC_ERR_NOT_REGULAR, "%s: not a directory", p);
        }
        if (i < n) {
            p[i] = '/';
        }
    }
    return 0;
}

/* --- the certificate and key pair ------------------------------------- */

struct pair_paths {
    char vdir[EVC_PATH_MAX];      /* <certdir>/.<certname>.evercert */
    char live[EVC_PATH_MAX];      /* vdir/live */
    char cert_link[EVC_PATH_MAX]; /* what cert_path must point at */
    char key_link[EVC_PATH_MAX];  /* what key_path must point at */
};

static int
pair_paths(const char *cert_path, const char *key_path, struct pair_paths *pp, struct evc_err *err)
{
    char cdir[EVC_PATH_MAX], kdir[EVC_PATH_MAX], name[EVC_PATH_MAX], real[PATH_MAX];
    char ckdir[PATH_MAX];
    int n;

    dir_of(cert_path, cdir, sizeof(cdir));
    dir_of(key_path, kdir, sizeof(kdir));
    base_of(cert_path, name, sizeof(name));
    if (realpath(cdir, real) == NULL) {
        return sys_err(err, "resolve", cdir);
    }
    if (realpath(kdir, ckdir) == NULL) {
        return sys_err(err, "resolve", kdir);
    }
    n = snprintf(pp->vdir, sizeof(pp->vdir), "%s/.%s.evercert", real, name);
    if (n < 0 || (size_t)n >= sizeof(pp->vdir) - 16) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", cert_path);
    }
    (void)evc_path_fmt(pp->live, sizeof(pp->live), "%s/live", pp->vdir);
    (void)evc_path_fmt(pp->cert_link, sizeof(pp->cert_link), ".%s.evercert/live/cert", name);
    /* A key beside its certificate gets a relative link, so the pair can move. */
    if (strcmp(real, ckdir) == 0) {
        (void)evc_path_fmt(pp->key_link, sizeof(pp->key_link), ".%s.evercert/live/key", name);
    } else {
        (void)evc_path_fmt(pp->key_link, sizeof(pp->key_link), "%s/live/key", pp->vdir);
    }
    return 0;
}

/* The generation live points at, 0 if none. */
static unsigned long
live_generation(const struct pair_paths *pp)
{
    char t[64];
    ssize_t n = readlink(pp->live, t, sizeof(t) - 1);
    char *end;
    unsigned long g;

    if (n <= 1 || t[0] != 'g') {
        return 0;
    }
    t[n] = '\0';
    errno = 0;
    g = strtoul(t + 1, &end, 10);
    return (errno != 0 || *end != '\0') ? 0 : g;
}

static int
is_link_to(const char *path, const char *target)
{
    char t[EVC_PATH_MAX];
    ssize_t n = readlink(path, t, sizeof(t) - 1);

    if (n < 0) {
        return 0;
    }
    t[n] = '\0';
    return strcmp(t, target) == 0;
}

/* Remove a generation directory and the two files it may hold. */
static int
remove_generation(const char *vdir, const char *gname, struct evc_err *err)
{
    char p[EVC_PATH_MAX];
    static const char *const files[] = {"cert", "key"};

    for (size_t i = 0; i < 2; i++) {
        (void)evc_path_fmt(p, sizeof(p), "%s/%s/%s", vdir, gname, files[i]);
        evc_fault_point();
        if (unlink(p) == -1 && errno != ENOENT) {
            return sys_err(err, "remove", p);
        }
    }
    (void)evc_path_fmt(p, sizeof(p), "%s/%s", vdir, gname);
    evc_fault_point();
    if (rmdir(p) == -1 && errno != ENOENT) {
        return sys_err(err, "remove", p);
    }
    return 0;
}

/* Write generation g holding cert and key, then point live at it. */
static int
publish_generation(const struct pair_paths *pp, unsigned long g, const void *cert, size_t cert_len,
                   const void *key, size_t key_len, struct evc_err *err)
{
    char gname[32], gdir[EVC_PATH_MAX], p[EVC_PATH_MAX];
    int r;

    (void)evc_path_fmt(gname, sizeof(gname), "g%lu", g);
    (void)evc_path_fmt(gdir, sizeof(gdir), "%s/%s", pp->vdir, gname);
    /* A directory of this number is the debris of a run that crashed: live never saw it. */
    if ((r = remove_generation(pp->vdir, gname, err)) != 0) {
        return r;
    }
    evc_fault_point();
    if (mkdir(gdir, 0755) == -1) {
        return sys_err(err, "mkdir", gdir);
    }
    (void)evc_path_fmt(p, sizeof(p), "%s/cert", gdir);
    if ((r = create_file(p, cert, cert_len, 0644, err)) != 0) {
        return r;
    }
    (void)evc_path_fmt(p, sizeof(p), "%s/key", gdir);
    if ((r = create_file(p, key, key_len, 0600, err)) != 0) {
        return r;
    }
    if ((r = sync_dir(gdir, err)) != 0 || (r = sync_dir(pp->vdir, err)) != 0) {
        return r;
    }
    return evc_atomic_symlink(gname, pp->live, err);
}

/* Remove every generation but the live one: what they held was replaced. */
static int
prune_generations(const struct pair_paths *pp, unsigned long keep, struct evc_err *err)
{
    DIR *d;
    struct dirent *de;
    char keepname[32];
    int r = 0;

    (void)evc_path_fmt(keepname, sizeof(keepname), "g%lu", keep);
    if ((d = opendir(pp->vdir)) == NULL) {
        return sys_err(err, "open directory", pp->vdir);
    }
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == 'g' && strcmp(de->d_name, keepname) != 0) {
            r = remove_generation(pp->vdir, de->d_name, err);
        }
    }
    closedir(d);
    return r == 0 ? sync_dir(pp->vdir, err) : r;
}

int
evc_pair_save(const char *cert_path, const void *cert, size_t cert_len, const char *key_path,
              const void *key, size_t key_len, struct evc_err *err)
{
    struct pair_paths pp;
    struct evc_buf oldc, oldk;
    unsigned long g;
    int r;

    evc_buf_init(&oldc, EVC_STORE_FILE_MAX);
    evc_buf_init(&oldk, EVC_STORE_FILE_MAX);
    if ((r = pair_paths(cert_path, key_path, &pp, err)) != 0) {
        goto out;
    }
    if ((r = evc_mkdirs(pp.vdir, 0755, err)) != 0) {
        goto out;
    }
    g = live_generation(&pp);
    if (!is_link_to(cert_path, pp.cert_link) || !is_link_to(key_path, pp.key_link)) {
        /*
         * First switch to the linked layout: a generation holding exactly
         * what the two paths show now, then each path becomes a link to
         * it. A reader sees the same bytes before and after each rename.
         */
        if (evc_file_read(cert_path, EVC_STORE_FILE_MAX, &oldc, NULL) == 0 &&
            evc_file_read(key_path, EVC_STORE_FILE_MAX, &oldk, NULL) == 0) {
            g++;
            if ((r = publish_generation(&pp, g, oldc.data, oldc.len, oldk.data, oldk.len, err)) !=
                    0 ||
                (r = evc_atomic_symlink(pp.cert_link, cert_path, err)) != 0 ||
                (r = evc_atomic_symlink(pp.key_link, key_path, err)) != 0) {
                goto out;
            }
        }
    }
    g++;
    if ((r = publish_generation(&pp, g, cert, cert_len, key, key_len, err)) != 0) {
        goto out;
    }
    if (!is_link_to(cert_path, pp.cert_link) || !is_link_to(key_path, pp.key_link)) {
        if ((r = evc_atomic_symlink(pp.cert_link, cert_path, err)) != 0 ||
            (r = evc_atomic_symlink(pp.key_link, key_path, err)) != 0) {
            goto out;
        }
    }
    r = prune_generations(&pp, g, err);
out:
    evc_buf_free(&oldc);
    evc_buf_free(&oldk);
    return r;
}

int
evc_lock_take(const char *path, int *fd, struct evc_err *err)
{
    int f;

    *fd = -1;
    if ((f = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
        return sys_err(err, "open lock", path);
    }
    if (flock(f, LOCK_EX | LOCK_NB) == -1) {
        int e = errno;

        close(f);
        if (e == EWOULDBLOCK) {
            return evc_err_set(err, EVC_ERR_BUSY, "%s: another evercert run holds this lock", path);
        }
        errno = e;
        return sys_err(err, "lock", path);
    }
    *fd = f;
    return 0;
}

void
evc_lock_release(int fd)
{
    if (fd != -1) {
        close(fd);
    }
}

/* --- group commit --------------------------------------------------------- */

struct batch_file {
    char path[EVC_PATH_MAX];
    char tmp[EVC_PATH_MAX];
};

struct evc_batch {
    struct batch_file *files;
    size_t n;
    int committed;
};

int
evc_batch_new(struct evc_batch **out, struct evc_err *err)
{
    if ((*out = calloc(1, sizeof(**out))) == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int
evc_batch_write(struct evc_batch *b, const char *path, const void *data, size_t len, mode_t mode,
                struct evc_err *err)
{
    struct batch_file *f = realloc(b->files, (b->n + 1) * sizeof(*f));
    struct keep k;
    int fd, r = 0;
    const uint8_t *p = data;

    if (f == NULL) {
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    b->files = f;
    f = &b->files[b->n];
    if ((r = prepare(path, mode, f->path, f->tmp, &k, err)) != 0) {
        return r;
    }
    (void)unlink(f->tmp);
    evc_fault_point();
    if ((r = open_temp(f->tmp, &k, &fd, err)) != 0) {
        return r;
    }
    while (r == 0 && len > 0) {
        ssize_t w = write(fd, p, len);

        if (w == -1 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            r = sys_err(err, "write", f->tmp);
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    close(fd);
    if (r != 0) {
        unlink(f->tmp);
        return r;
    }
    b->n++;
    return 0;
}

int
evc_batch_commit(struct evc_batch *b, struct evc_err *err)
{
    char dir[EVC_PATH_MAX], last[EVC_PATH_MAX] = "";
    int r;

    /* One sync per file system makes every temporary file durable. */
    for (size_t i = 0; i < b->n; i++) {
        int fd;

        dir_of(b->files[i].path, dir, sizeof(dir));
        if (strcmp(dir, last) == 0) {
            continue;
        }
        evc_fault_point();
        if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
            return sys_err(err, "open directory", dir);
        }
        r = syncfs(fd);
        close(fd);
        if (r == -1) {
            return sys_err(err, "syncfs", dir);
        }
        (void)evc_path_fmt(last, sizeof(last), "%s", dir);
    }
    for (size_t i = 0; i < b->n; i++) {
        evc_fault_point();
        if (rename(b->files[i].tmp, b->files[i].path) == -1) {
            return sys_err(err, "rename", b->files[i].path);
        }
    }
    b->committed = 1;
    last[0] = '\0';
    for (size_t i = 0; i < b->n; i++) {
        dir_of(b->files[i].path, dir, sizeof(dir));
        if (strcmp(dir, last) == 0) {
            continue;
        }
        evc_fault_point();
        if ((r = sync_dir(dir, err)) != 0) {
            return r;
        }
        (void)evc_path_fmt(last, sizeof(last), "%s", dir);
    }
    return 0;
}

void
evc_batch_free(struct evc_batch *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; !b->committed && i < b->n; i++) {
        (void)unlink(b->files[i].tmp);
    }
    free(b->files);
    free(b);
}
