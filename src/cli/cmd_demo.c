/* SPDX-License-Identifier: Apache-2.0 */
/* evercert demo: the study's experiment, on 127.0.0.1. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic.h"
#include "cli.h"
#include "demo/demo.h"

/* A whole decimal number in [lo, hi], or -1 (said on stderr). */
static int
number(const char *opt, const char *arg, int lo, int hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < lo || v > hi) {
        evc_cli_error("demo", "%s '%s': expected a whole number from %d to %d", opt, arg, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void
on_signal(int sig)
{
    (void)sig;
    demo_interrupted = 1;
}

/* The progress line: on a terminal only, rewritten in place. */
static void
progress(const struct demo_result *r, double elapsed, double planned, void *arg)
{
    (void)arg;
    fprintf(stderr, "\r%3.0f s of ~%.0f s", elapsed, planned);
    for (int i = 0; i < r->nruns; i++) {
        struct demo_log *l = (struct demo_log *)&r->runs[i].log;
        long n, failed;

        pthread_mutex_lock(&l->lock);
        n = (long)l->n;
        failed = l->failed;
        pthread_mutex_unlock(&l->lock);
        fprintf(stderr, " | %s: %6ld tries, %5ld failed, %d swap%s", r->runs[i].name, n, failed,
                r->runs[i].replacements, r->runs[i].replacements == 1 ? "" : "s");
    }
    fputc(' ', stderr);
    fflush(stderr);
}

int
evc_cmd_demo(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, 'q'},
        {"lifetime", required_argument, NULL, 'l'},
        {"clients", required_argument, NULL, 'n'},
        {"manual-fix", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"manual", no_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct demo_settings s = {.lifetime = 60,
                              .clients = 20,
                              .open_sessions = 2,
                              .manual_fix = 30,
                              .interval_ms = 500,
                              .rotations = 3,
                              .out_dir = "evercert-demo"};
    struct demo_result res;
    struct evc_err err = {0};
    char self[PATH_MAX], why[256] = "";
    int c, json = 0, lifetime = -1, clients = -1, fix = -1, quick = 0, drawn = 0, tty, r;
    ssize_t n;
    struct stat st;

    optind = 1;
    while ((c = getopt_long(argc, argv, "ql:n:m:o:f:Mh", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quick = 1;
            break;
        case 'M':
            s.manual = 1;
            break;
        case 'l':
            if (number("--lifetime", optarg, DEMO_LIFETIME_MIN, DEMO_LIFETIME_MAX, &lifetime) !=
                0) {
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'n':
            if (number("--clients", optarg, 1, DEMO_CLIENTS_MAX, &clients) != 0) {
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'm':
            if (number("--manual-fix", optarg, 0, DEMO_MANUAL_FIX_MAX, &fix) != 0) {
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'o':
            s.out_dir = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                json = 1;
            } else if (strcmp(optarg, "text") != 0) {
                evc_cli_error("demo", "--format '%s': expected text or json", optarg);
                return EVC_EXIT_FAILURE;
            }
            break;
        case 'h':
            evc_cli_help("demo", 0);
            return 0;
        default:
            evc_cli_help("demo", 1);
            return EVC_EXIT_FAILURE;
        }
    }
    if (optind != argc) {
        evc_cli_error("demo", "usage: evercert demo [--quick] [--manual] [--lifetime SECONDS] "
                              "[--clients N] [--manual-fix SECONDS] [--out DIR] "
                              "[--format text|json]");
        return EVC_EXIT_FAILURE;
    }
    /* --quick: 10 s certificates and 5 clients; the person takes half a lifetime, as by default. */
    s.lifetime = lifetime > 0 ? lifetime : quick ? 10 : 60;
    s.clients = clients > 0 ? clients : quick ? 5 : 20;
    s.manual_fix = fix >= 0 ? fix : s.lifetime / 2;
    /*
     * --manual: an SA comes at half the life, activates a quarter of the
     * life later, and the next SA comes 40% of the life after it (a
     * successor starts a tenth of its life early, for clock skew). A
     * person approves 5% of the life after the SA came (before
     * activate_at) for half the clients, 28% after (past activate_at,
     * and early enough that a server waiting for its clients, whose
     * cycles run later, still has them before its deadline) for the others.
     */
    s.approve_early = 0.05 * s.lifetime;
    s.approve_late = 0.28 * s.lifetime;
    if (stat(s.out_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        evc_cli_error("demo", "--out %s: not a directory", s.out_dir);
        return EVC_EXIT_FAILURE;
    }
    if (evc_mkdirs(s.out_dir, 0755, &err) != 0) {
        evc_cli_error("demo", "--out %s: %s", s.out_dir, evc_err_message(&err));
        return EVC_EXIT_FAILURE;
    }
    /* `evercert serve`, `monitor` and `approve` are this very program. */
    if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
        evc_cli_error("demo", "cannot find this program: %s", strerror(errno));
        return EVC_EXIT_FAILURE;
    }
    self[n] = '\0';
    s.self = self;
    /* A server that closes first is a failed session, not the end of the demo. */
    signal(SIGPIPE, SIG_IGN);
    /* Ctrl-C or SIGTERM: stop the servers and remove the keys before leaving. */
    {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    tty = isatty(STDERR_FILENO);
    if (!json) {
        printf("Running %s runs side by side, about %d s ...\n", s.manual ? "three" : "both",
               s.lifetime + s.manual_fix + 4);
        fflush(stdout);
    }
    r = demo_run(&s, &res, tty ? progress : NULL, NULL, &err);
    if (tty) {
        fputc('\n', stderr);
    }
    if (r == 0 && (r = demo_write_data(&res, s.out_dir, &err)) == 0) {
        r = demo_draw_charts(&res, s.out_dir, &drawn, why, sizeof(why), &err);
    }
    if (r != 0) {
        evc_cli_error("demo", "%s", evc_err_message(&err));
        demo_result_free(&res);
        return EVC_EXIT_FAILURE;
    }
    if (json) {
        char *text = demo_json(&res);

        if (text == NULL) {
            evc_cli_error("demo", "out of memory");
            demo_result_free(&res);
            return EVC_EXIT_FAILURE;
        }
        printf("%s\n", text);
        free(text);
    } else {
        demo_text(&res, s.out_dir, drawn, stdout);
    }
    if (!drawn) {
        evc_cli_error("demo", "charts not drawn: %s", why);
    }
    /*
     * The claim under test: with evercert, no client failed and every
     * client converged; with --manual, no client whose person approved
     * before activate_at failed, and in the run that waits for its clients
     * (activate = ready) no client at all.
     */
    if (!s.manual) {
        r = res.runs[1].fig.failed_handshakes == 0 && res.runs[1].fig.open_failed == 0 &&
                    res.runs[1].fig.converge_state != DEMO_CONVERGE_NEVER
                ? 0
                : 1;
    } else {
        /* At activate_at only the late approvers may fail; waiting for readiness, none. */
        r = res.runs[2].fig.failed_handshakes == 0 && res.runs[2].fig.open_failed == 0 ? 0 : 1;
        for (int i = 0; i < s.clients + s.open_sessions; i++) {
            if (!res.runs[1].agent[i].late && res.runs[1].fig.client[i].failed > 0) {
                r = 1;
            }
        }
    }
    demo_result_free(&res);
    return r;
}
