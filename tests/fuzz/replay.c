/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs one fuzz target over files of inputs, as libFuzzer replays a corpus,
 * so that builds without libFuzzer (gcc, the ASan build) still check every
 * committed input: `replay_NAME DIR|FILE...`. A directory is read one
 * level deep. A broken property aborts inside the target; no input at all
 * is a failure too, so a missing corpus cannot pass.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Optional in a target, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Inputs over this are not fuzz inputs (libFuzzer's -max_len is far under). */
#define REPLAY_INPUT_MAX ((size_t)16 * 1024 * 1024)

static int
run_file(const char *path, size_t *count)
{
    FILE *f = NULL;
    uint8_t *data = NULL;
    struct stat st;
    size_t n;
    int r = -1;

    if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > REPLAY_INPUT_MAX) {
        fprintf(stderr, "replay: %s: not a regular file of at most %zu bytes\n", path,
                REPLAY_INPUT_MAX);
        goto out;
    }
    /* Exactly the input's size, so a read past its end is caught by ASan. */
    if ((data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
        fprintf(stderr, "replay: %s: out of memory\n", path);
        goto out;
    }
    n = fread(data, 1, (size_t)st.st_size, f);
    if (n != (size_t)st.st_size || ferror(f)) {
        fprintf(stderr, "replay: %s: short read\n", path);
        goto out;
    }
    (void)LLVMFuzzerTestOneInput(data, n);
    (*count)++;
    r = 0;
out:
    free(data);
    if (f != NULL) {
        fclose(f);
    }
    return r;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_dir(const char *dir, size_t *count)
{
    DIR *d;
    struct dirent *e;
    char **names = NULL, **grown;
    size_t n = 0, cap = 0;
    int r = 0;

    if ((d = opendir(dir)) == NULL) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            if ((grown = realloc(names, cap * sizeof(*names))) == NULL) {
                r = -1;
                break;
            }
            names = grown;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            r = -1;
            break;
        }
        n++;
    }
    closedir(d);
    /* In name order, so a failure is reproduced in the same order. */
    if (n > 0) {
        qsort(names, n, sizeof(*names), by_name);
    }
    for (size_t i = 0; r == 0 && i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);

        if (path == NULL) {
            r = -1;
            break;
        }
        snprintf(path, len, "%s/%s", dir, names[i]);
        r = run_file(path, count);
        free(path);
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return r;
}

int
main(int argc, char **argv)
{
    size_t count = 0;
    struct stat st;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL) {
        (void)LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if ((S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) : run_file(argv[i], &count)) != 0) {
            return 1;
        }
    }
    if (count == 0) {
        fprintf(stderr, "replay: no inputs in the paths given\n");
        return 1;
    }
    printf("replay: %zu inputs, no property broken\n", count);
    return 0;
}
