/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durable, atomic changes to files: a reader sees the old content or the
 * new, never a mix, and after a crash the disk holds one of the two.
 *
 * A file is replaced by writing a temporary file in the same directory,
 * fsync, rename over the target, fsync the directory. A certificate and
 * its key are replaced together through a versioned directory and one
 * symlink (evc_pair_save), the pattern of Kubernetes' AtomicWriter.
 */
#ifndef EVC_BASE_ATOMIC_H
#define EVC_BASE_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

#include "evercert/error.h"

/*
 * Called before every step that changes the disk, with a counter that
 * starts at 1 per process. Tests install a hook that ends the process at
 * step N to prove a crash anywhere leaves every store whole.
 */
extern void (*evc_fault_hook)(unsigned long step);
void evc_fault_point(void);

/*
 * Replace path with data. A symbolic link is written through: the file it
 * finally names (at most EVC_LINK_HOPS_MAX links) is replaced, with the
 * temporary file beside it and its directory synced, and the link stays.
 * A file that exists keeps its mode, owner and group, except that others
 * never get more than mode gives them; a new file gets mode, whatever the
 * umask. EVC_ERR_ACCESS when the owner cannot be kept (then nothing
 * changes), EVC_ERR_NOT_REGULAR when the target is not a regular file.
 */
int evc_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
                     struct evc_err *err);

/* Create path, which must not exist, 0600, O_EXCL|O_NOFOLLOW, durably. */
int evc_key_file_create(const char *path, const void *data, size_t len, struct evc_err *err);

/* Point linkpath at target, replacing whatever was there, durably. */
int evc_atomic_symlink(const char *target, const char *linkpath, struct evc_err *err);

/* Remove path (a file or a symlink) and sync its directory; gone is fine. */
int evc_durable_unlink(const char *path, struct evc_err *err);

/* fsync the directory that holds path. */
int evc_sync_parent(const char *path, struct evc_err *err);

/* mkdir -p with mode for the parts it creates, whatever the umask. */
int evc_mkdirs(const char *path, mode_t mode, struct evc_err *err);

/*
 * Replace a certificate file and its key file as one step. Both paths
 * become symlinks into <certdir>/.<certname>.evercert/live/, and live
 * points at a numbered directory holding both files; the switch is one
 * rename of live. A first call turns existing regular files into such
 * links without changing what they hold. Either file may have been
 * written before by anyone; nothing else in their directories changes.
 */
int evc_pair_save(const char *cert_path, const void *cert, size_t cert_len, const char *key_path,
                  const void *key, size_t key_len, struct evc_err *err);

/*
 * A group commit: many files replaced with two syncs in all instead of
 * three per file. evc_batch_write puts each file's bytes in a temporary
 * file beside it (a key: created 0600 O_EXCL; links, mode and owner as
 * evc_atomic_write); evc_batch_commit syncs the
 * file systems once, renames every file in the order written, then syncs
 * each directory once. A crash before the commit leaves only temporary
 * files; after it, every file is new. Readers must still check that
 * related files agree (renew's staged files do).
 */
struct evc_batch;
int evc_batch_new(struct evc_batch **out, struct evc_err *err);
int evc_batch_write(struct evc_batch *b, const char *path, const void *data, size_t len,
                    mode_t mode, struct evc_err *err);
int evc_batch_commit(struct evc_batch *b, struct evc_err *err);
/* Removes the temporary files of an uncommitted batch. NULL-safe. */
void evc_batch_free(struct evc_batch *b);

/*
 * An exclusive, non-blocking flock(2) on the existing file at path (the
 * configuration itself, so taking the lock writes nothing). EVC_ERR_BUSY
 * if another process holds it. *fd is closed by evc_lock_release.
 */
int evc_lock_take(const char *path, int *fd, struct evc_err *err);
void evc_lock_release(int fd);

#endif
