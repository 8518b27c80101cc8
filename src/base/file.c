/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening with O_NONBLOCK makes open() of a FIFO return at once instead of
 * waiting for a writer; fstat() on the open descriptor then decides, so a
 * file swapped between a stat and the open is still checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "evercert/limits.h"
#include "base/file.h"

int
evc_errno_code(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return EVC_ERR_NOENT;
    case EACCES:
    case EPERM:
        return EVC_ERR_ACCESS;
    case ELOOP:
        return EVC_ERR_LOOP;
    case EFBIG:
        return EVC_ERR_TOO_LARGE;
    default:
        return EVC_ERR_IO;
    }
}

static const char *
kind_of(mode_t m)
{
    if (S_ISDIR(m)) {
        return "a directory";
    } else if (S_ISFIFO(m)) {
        return "a FIFO";
    } else if (S_ISSOCK(m)) {
        return "a socket";
    } else if (S_ISCHR(m) || S_ISBLK(m)) {
        return "a device";
    }
    return "not a regular file";
}

int
evc_file_read(const char *path, size_t max, struct evc_buf *out, struct evc_err *err)
{
    int fd = -1, r = EVC_ERR_INTERNAL;
    struct stat st;

    evc_buf_reset(out);
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) == -1) {
        r = evc_err_set(err, evc_errno_code(errno), "%s", strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) == -1) {
        r = evc_err_set(err, EVC_ERR_IO, "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = evc_err_set(err, EVC_ERR_NOT_REGULAR, "%s, not a regular file", kind_of(st.st_mode));
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        r = evc_err_set(err, EVC_ERR_TOO_LARGE, "file too large (%lld bytes, limit %zu)",
                        (long long)st.st_size, max);
        goto out;
    }
    /* Room for one byte past the cap, to notice a file that grew. */
    if (out->max < max + 2) {
        out->max = max + 2;
    }
    if ((r = evc_buf_reserve(out, (size_t)st.st_size + 1)) != 0) {
        r = evc_err_set(err, r, "%s", evc_strerror(r));
        goto out;
    }
    /* Read until end of file: the file may have grown or shrunk since fstat. */
    for (;;) {
        size_t room;
        ssize_t n;

        if (out->len > max) {
            r = evc_err_set(err, EVC_ERR_TOO_LARGE, "file too large (limit %zu bytes)", max);
            goto out;
        }
        if (out->alloc - out->len < 2) {
            room = max + 1 - out->len;
            if ((r = evc_buf_reserve(out, room < 65536 ? room : 65536)) != 0) {
                r = evc_err_set(err, r, "%s", evc_strerror(r));
                goto out;
            }
        }
        room = out->alloc - out->len - 1;
        if (room > max + 1 - out->len) {
            room = max + 1 - out->len;
        }
        n = read(fd, out->data + out->len, room);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1) {
            r = evc_err_set(err, evc_errno_code(errno), "%s", strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        out->len += (size_t)n;
    }
    r = 0;
out:
    if (fd != -1) {
        close(fd);
    }
    return r;
}

int
evc_path_fmt(char *out, size_t outsz, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz > 0) {
            out[0] = '\0';
        }
        return EVC_ERR_LIMIT;
    }
    return 0;
}

int
evc_password_read(const char *path, struct evc_buf *out, struct evc_err *err)
{
    size_t n;
    int r;

    if ((r = evc_file_read(path, EVC_PASSWORD_MAX, out, err)) != 0) {
        return evc_err_set(err, r, "%s: %s", path, evc_err_message(err));
    }
    for (n = 0; n < out->len && out->data[n] != '\n' && out->data[n] != '\r'; n++) {
    }
    if (n < out->len) {
        OPENSSL_cleanse(out->data + n, out->len - n);
        out->len = n;
    }
    return 0;
}
