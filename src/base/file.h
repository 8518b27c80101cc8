/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading whole files from paths a user named, safely: only regular files,
 * never blocking on a FIFO or device, never past a size cap.
 */
#ifndef EVC_BASE_FILE_H
#define EVC_BASE_FILE_H

#include "evercert/buf.h"

/*
 * Read the regular file at path into out (which must be initialised; its
 * cap is raised to max if lower). Errors: EVC_ERR_NOENT, ACCESS, LOOP,
 * NOT_REGULAR, TOO_LARGE (over max bytes), IO; err gets the reason.
 */
int evc_file_read(const char *path, size_t max, struct evc_buf *out, struct evc_err *err);

/*
 * snprintf for paths: 0, or EVC_ERR_LIMIT when the result would not fit
 * (out then holds an empty string, never a cut path).
 */
int evc_path_fmt(char *out, size_t outsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A password_file's password: its first line, without the line break, into
 * out (initialised with room for EVC_PASSWORD_MAX + 2 bytes; evc_buf_free
 * wipes it). The error names the file.
 */
int evc_password_read(const char *path, struct evc_buf *out, struct evc_err *err);

/* Map an errno value from open/stat to our code. */
int evc_errno_code(int e);

#endif
