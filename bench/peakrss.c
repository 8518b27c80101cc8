/* SPDX-License-Identifier: Apache-2.0 */
/* Run a command with its output discarded; print its peak resident memory in KiB. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    struct rusage ru;
    int st;
    pid_t pid;

    if (argc < 2) {
        fprintf(stderr, "usage: peakrss COMMAND [ARGS]\n");
        return 2;
    }
    if ((pid = fork()) == 0) {
        int fd = open("/dev/null", O_WRONLY);

        dup2(fd, 1);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &st, 0, &ru) < 0) {
        return 1;
    }
    printf("%ld\n", ru.ru_maxrss);
    return 0;
}
