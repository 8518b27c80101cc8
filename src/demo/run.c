/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The experiment's set-up and its two runs, side by side on one clock.
 *   existing: at expiry the certificate is replaced as the study's script
 *     does it (new key, new self-signed certificate, the server reloads
 *     its files); the clients keep their trust until a simulated person
 *     adds the new certificate to every trust store manual_fix seconds
 *     later.
 *   evercert: an `evercert monitor` process, on its own clock, renews at
 *     half the lifetime, stages the successor and its SA (activated after
 *     half the time left) and swaps the pair in at activate_at;
 *     `evercert serve` hands the SA out in the TLS 1.3 handshake and on
 *     its push channel; each client's own agent (client.c) decides and
 *     writes its trust store.
 *   evercert-ready (with --manual): the same, but its monitor waits until
 *     its `evercert serve` has seen every client hold the successor
 *     (activate = ready), at the latest 5% of the lifetime before the old
 *     certificate ends, so a person who approves late costs nothing.
 * All serve a self-signed certificate the clients trust directly, as in
 * the study; each run has its own `evercert serve` on a loopback port.
 * Half the clients of each run speak TLS 1.2, as the study's did.
 */
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "evercert/ca.h"
#include "evercert/state.h"
#include "evercert/stores.h"
#include "evercert/time.h"
#include "base/atomic.h"
#include "base/file.h"
#include "demo/demo.h"

volatile sig_atomic_t demo_interrupted;

#define SERVICE "web.test"
#define TAIL 3.0           /* seconds each run goes on after its last event */
#define SERVER_START_MAX 5 /* seconds for `evercert serve` and `evercert monitor` to start */
#define LOOK_EVERY 0.5     /* seconds between looks at the monitor's log */

/* A free loopback port: bind to 0 and ask. The server binds it a moment later. */
static int
free_port(int *port, struct evc_err *err)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        int e = errno;

        if (fd != -1) {
            close(fd);
        }
        return evc_err_set(err, EVC_ERR_IO, "no free port on 127.0.0.1: %s", strerror(e));
    }
    *port = ntohs(a.sin_port);
    close(fd);
    return 0;
}

/*
 * A new key and a self-signed certificate for the service, living
 * lifetime seconds from now: the study's script. PEM into cert and key.
 */
static int
make_pair(int lifetime, evc_time now, struct evc_buf *cert, struct evc_buf *key,
          struct evc_err *err)
{
    static const char *const sans[] = {"DNS:" SERVICE, "IP:127.0.0.1"};
    struct evc_cert_req req = {EVC_PROFILE_SELFSIGNED, NULL, SERVICE, sans, 2, now, now + lifetime};
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    int r;

    if ((r = evc_key_generate(EVC_KEY_DEFAULT, &k, err)) == 0 &&
        (r = evc_ca_make(&req, k, NULL, NULL, &x, err)) == 0 &&
        (r = evc_x509_pem(x, cert, err)) == 0) {
        r = evc_key_pem(k, key, err);
    }
    X509_free(x);
    EVP_PKEY_free(k);
    return r;
}

/* Write the pair as the study's script does: the key, then the certificate. */
static int
save_pair(struct demo_run *run, const struct evc_buf *cert, const struct evc_buf *key,
          struct evc_err *err)
{
    int r;

    if ((r = evc_atomic_write(run->key, key->data, key->len, 0600, err)) != 0) {
        return r;
    }
    return evc_atomic_write(run->cert, cert->data, cert->len, 0644, err);
}

/* Every client's trust store is created holding pem (the first certificate). */
static int
trust_create(struct demo_run *run, const struct evc_buf *pem, struct evc_err *err)
{
    int n = run->set->clients + run->set->open_sessions, r = 0;

    for (int i = 0; i < n && r == 0; i++) {
        char path[4300];

        snprintf(path, sizeof(path), "%s/clients/client-%02d", run->dir, i);
        if ((r = evc_mkdirs(path, 0755, err)) != 0) {
            break;
        }
        snprintf(path, sizeof(path), "%s/clients/client-%02d/trust.pem", run->dir, i);
        r = evc_atomic_write(path, pem->data, pem->len, 0644, err);
    }
    return r;
}

/* The person's fix: the new certificate goes into every client's trust store. */
static int
trust_fix(struct demo_run *run, const struct evc_buf *pem, struct evc_err *err)
{
    int n = run->set->clients + run->set->open_sessions, r;
    X509 *x = NULL;

    if ((r = evc_x509_parse(pem->data, pem->len, &x, err)) != 0) {
        return r;
    }
    for (int i = 0; i < n && r == 0; i++) {
        char path[4300];
        struct evc_trust *t = NULL;

        snprintf(path, sizeof(path), "%s/clients/client-%02d/trust.pem", run->dir, i);
        if ((r = evc_trust_load(path, NULL, &t, err)) == 0) {
            r = evc_trust_add(t, x, err);
        }
        evc_trust_free(t);
    }
    X509_free(x);
    return r;
}

/* The not_after of the PEM certificate in buf. */
static int
not_after(const struct evc_buf *pem, evc_time *out, struct evc_err *err)
{
    X509 *x = NULL;
    int r;

    if ((r = evc_x509_parse(pem->data, pem->len, &x, err)) == 0) {
        r = evc_asn1_time(X509_get0_notAfter(x), out);
    }
    X509_free(x);
    return r;
}

/*
 * The agents' interval: how often each repeats its acknowledgement, a
 * tenth of the lifetime (at least 1 s); the server that counts them keeps
 * a window of three of those (ready_window).
 */
static int
agent_interval(const struct demo_settings *s)
{
    return s->lifetime / 10 > 1 ? s->lifetime / 10 : 1;
}

/* Start `evercert serve` for the run; wait until it listens. */
static int
start_server(struct demo_run *run, int with_sa, struct evc_err *err)
{
    char listen[32], announce[32], status[32], window[32], log[4300];
    char *argv[18];
    int n = 0;
    pid_t pid;

    snprintf(listen, sizeof(listen), "127.0.0.1:%d", run->port);
    snprintf(log, sizeof(log), "%s/serve.log", run->dir);
    argv[n++] = (char *)run->set->self;
    argv[n++] = "serve";
    argv[n++] = "--cert";
    argv[n++] = run->cert;
    argv[n++] = "--key";
    argv[n++] = run->key;
    if (with_sa) {
        snprintf(announce, sizeof(announce), "127.0.0.1:%d", run->announce_port);
        argv[n++] = "--sa";
        argv[n++] = run->sa;
        argv[n++] = "--announce-listen";
        argv[n++] = announce;
    }
    if (run->ready) {
        snprintf(status, sizeof(status), "127.0.0.1:%d", run->status_port);
        snprintf(window, sizeof(window), "%ds", 3 * agent_interval(run->set));
        argv[n++] = "--status-listen";
        argv[n++] = status;
        argv[n++] = "--ready-window";
        argv[n++] = window;
    }
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n] = NULL;
    if ((n = demo_spawn(argv, 0, log, &pid)) != 0) {
        return evc_err_set(err, EVC_ERR_IO, "cannot start %s serve: %s", run->set->self,
                           strerror(n));
    }
    run->server_pid = pid;
    if ((n = demo_wait_ready(pid, log, "listening on", SERVER_START_MAX)) == 0) {
        return 0;
    }
    if (n == 1) {
        run->server_pid = 0; /* reaped */
    }
    return evc_err_set(err, EVC_ERR_IO, "%s run: evercert serve did not start (see %s)", run->name,
                       log);
}

static void
stop_server(struct demo_run *run)
{
    if (run->server_pid > 0) {
        kill(run->server_pid, SIGTERM);
    }
}

static void
reap_server(struct demo_run *run)
{
    if (run->server_pid > 0) {
        (void)demo_wait_bounded(run->server_pid, 10); /* serve stops 2 s after SIGTERM */
        run->server_pid = 0;
    }
}

/*
 * The run's `evercert monitor`, on its own clock: it renews when the
 * certificate reaches its threshold and swaps at activate_at, as it does
 * for a user. Nothing here asks it for a pass.
 */
static int
start_monitor(struct demo_run *run, struct evc_err *err)
{
    char *argv[] = {(char *)run->set->self, "monitor", "--config", run->config, NULL};
    pid_t pid;
    int n;

    snprintf(run->monitor_log, sizeof(run->monitor_log), "%s/monitor.log", run->dir);
    if ((n = demo_spawn(argv, 0, run->monitor_log, &pid)) != 0) {
        return evc_err_set(err, EVC_ERR_IO, "cannot start %s monitor: %s", run->set->self,
                           strerror(n));
    }
    run->monitor_pid = pid;
    if ((n = demo_wait_ready(pid, run->monitor_log, "started;", SERVER_START_MAX)) == 0) {
        return 0;
    }
    if (n == 1) {
        run->monitor_pid = 0; /* reaped */
    }
    return evc_err_set(err, EVC_ERR_IO, "%s run: evercert monitor did not start (see %s)",
                       run->name, run->monitor_log);
}

static void
stop_monitor(struct demo_run *run)
{
    if (run->monitor_pid > 0) {
        kill(run->monitor_pid, SIGTERM);
        (void)demo_wait_bounded(run->monitor_pid, 10);
        run->monitor_pid = 0;
    }
}

/* The swaps the monitor made so far: its log's activate lines that were done. */
static int
monitor_swaps(const struct demo_run *run)
{
    struct evc_buf b;
    struct evc_err err = {0};
    const char *p, *end;
    int n = 0;

    evc_buf_init(&b, (size_t)4 << 20);
    if (evc_file_read(run->monitor_log, (size_t)4 << 20, &b, &err) == 0 && b.len > 0) {
        for (p = (const char *)b.data, end = p + b.len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

            if (memmem(p, len, "action=activate ", 16) != NULL &&
                memmem(p, len, " done=1 ", 8) != NULL) {
                n++;
            }
            p += len + 1;
        }
    }
    evc_buf_free(&b);
    return n;
}

static int
count_run(void *arg, int64_t id, evc_time started, evc_time finished, const char *trigger,
          int status, const char *message)
{
    struct demo_run *run = arg;

    (void)id;
    (void)started;
    (void)finished;
    (void)status;
    (void)message;
    run->monitor_passes++;
    if (strcmp(trigger, "trigger") == 0 || strcmp(trigger, "once") == 0) {
        run->monitor_triggered++;
    }
    return 0;
}

static int
count_action(void *arg, int64_t id, evc_time at, const char *action, const char *store,
             const char *reason, const char *old_sha256, const char *new_sha256, const char *detail)
{
    struct demo_run *run = arg;

    (void)id;
    (void)at;
    (void)store;
    (void)reason;
    (void)old_sha256;
    (void)new_sha256;
    (void)detail;
    if (strcmp(action, "activate") == 0) {
        run->monitor_swaps++;
    }
    return 0;
}

/*
 * After the run: the monitor's own record of its passes (how many, and
 * that none was asked for), its log and `evercert history` of them into
 * the output directory.
 */
static void
monitor_record(struct demo_run *run)
{
    char path[4400], out[4400];
    char *argv[] = {
        (char *)run->set->self, "history", "--config", run->config, "--format", "json", NULL};
    struct evc_history_cb cb = {count_run, count_action, run};
    struct evc_state *st = NULL;
    struct evc_buf b;
    struct evc_err err = {0};

    snprintf(path, sizeof(path), "%s/monitor.db", run->dir);
    if (evc_state_open(path, 0, &st, &err) != 0 || evc_state_history(st, &cb, &err) != 0) {
        run->monitor_passes = -1; /* unknown: the JSON says null */
    }
    evc_state_close(st);
    snprintf(out, sizeof(out), "%s/history-%s.json", run->set->out_dir, run->name);
    (void)demo_run_cmd(argv, out, 10);
    snprintf(out, sizeof(out), "%s/monitor-%s.log", run->set->out_dir, run->name);
    evc_buf_init(&b, (size_t)4 << 20);
    if (evc_file_read(run->monitor_log, (size_t)4 << 20, &b, &err) == 0) {
        (void)evc_atomic_write(out, b.data, b.len, 0644, &err);
    }
    evc_buf_free(&b);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* The run's directory, paths, first pair and clients' trust stores. */
static int
setup_run(struct demo_run *run, const char *tmp, const struct evc_buf *cert,
          const struct evc_buf *key, struct evc_err *err)
{
    char sub[4300];
    int r;

    snprintf(run->dir, sizeof(run->dir), "%s/%s", tmp, run->name);
    snprintf(run->cert, sizeof(run->cert), "%s/server/cert.pem", run->dir);
    snprintf(run->key, sizeof(run->key), "%s/server/key.pem", run->dir);
    snprintf(run->sa, sizeof(run->sa), "%s/server/cert.pem.sa", run->dir);
    snprintf(run->config, sizeof(run->config), "%s/monitor.ini", run->dir);
    snprintf(sub, sizeof(sub), "%s/server", run->dir);
    if ((r = evc_mkdirs(sub, 0700, err)) != 0) {
        return r;
    }
    snprintf(sub, sizeof(sub), "%s/deleted", run->dir);
    if ((r = evc_mkdirs(sub, 0700, err)) != 0) {
        return r;
    }
    snprintf(sub, sizeof(sub), "%s/clients", run->dir);
    if ((r = evc_mkdirs(sub, 0755, err)) != 0 || (r = save_pair(run, cert, key, err)) != 0 ||
        (r = trust_create(run, cert, err)) != 0 || (r = demo_log_init(&run->log)) != 0) {
        return r != 0 && err->code == 0 ? evc_err_set(err, EVC_ERR_NOMEM, "out of memory") : r;
    }
    /* Odd clients speak TLS 1.2; every other pair's person approves late (--manual). */
    for (int i = 0; i < run->set->clients + run->set->open_sessions; i++) {
        run->agent[i].tls12 = i % 2 == 1;
        run->agent[i].late = run->set->manual && (i / 2) % 2 == 1;
    }
    if ((r = free_port(&run->port, err)) != 0 || (r = free_port(&run->announce_port, err)) != 0) {
        return r;
    }
    return run->ready ? free_port(&run->status_port, err) : 0;
}

/*
 * Client i's agent: its own state, trust store and deleted store. A TLS
 * 1.3 client learns successors from its own handshakes, a TLS 1.2 client
 * from serve's push channel. Every client is on 127.0.0.1, one address to
 * the server, so each agent names itself; where the server counts its
 * clients (the ready run) every agent holds the push channel open, whose
 * acknowledgements carry that name.
 */
static int
write_agent_config(struct demo_run *run, int i, struct evc_err *err)
{
    char dir[4300], path[4400], text[16384], del[4400];
    int n;
    int r;

    snprintf(dir, sizeof(dir), "%s/clients/client-%02d", run->dir, i);
    snprintf(del, sizeof(del), "%s/deleted", dir);
    if ((r = evc_mkdirs(del, 0700, err)) != 0) {
        return r;
    }
    n = snprintf(text, sizeof(text),
                 "; evercert demo: client %d's agent (TLS %s)\n"
                 "[agent]\nstate = %s/agent.db\ndeleted = %s\nclient_id = client-%02d\n\n"
                 "[notify]\nlog = none\n\n"
                 "[server \"web\"]\nconnect = 127.0.0.1:%d\nservice = " SERVICE "\n"
                 "trust = %s/trust.pem\ntrust_format = bundle\npolicy = %s\nsources = %s\n"
                 "announce = 127.0.0.1:%d\ninterval = %ds\n",
                 i, run->agent[i].tls12 ? "1.2" : "1.3", dir, del, i, run->port, dir,
                 run->set->manual ? "manual" : "auto",
                 run->agent[i].tls12 ? "push"
                 : run->ready        ? "handshake,push"
                                     : "handshake",
                 run->announce_port, agent_interval(run->set));
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", dir);
    }
    snprintf(path, sizeof(path), "%s/agent.ini", dir);
    return evc_atomic_write(path, text, (size_t)n, 0644, err);
}

/*
 * The monitor's configuration for an evercert run: renew at half the
 * lifetime, activate after half the time left; serve watches the files,
 * so nothing runs after a replacement. The ready run's monitor also waits
 * until its serve has seen every client hold the successor, at the
 * latest 5% of the lifetime before the old certificate ends.
 */
static int
write_monitor_config(struct demo_run *run, struct evc_err *err)
{
    char text[9000], ready[160] = "", source[64] = "";
    int n, r;

    if (run->ready) {
        snprintf(ready, sizeof(ready), "activate = ready\nactivate_margin = 5%%\n");
        snprintf(source, sizeof(source), "readiness = 127.0.0.1:%d\n", run->status_port);
    }
    /* The state beside the configuration, never the system's (/var/lib/evercert as root). */
    n = snprintf(text, sizeof(text),
                 "; evercert demo: the monitor renews at half the lifetime\n"
                 "[monitor]\nstate = %s/monitor.db\n\n"
                 "[policy]\nexpiration_threshold = 50%%\ndistribution_window = 50%%\n%s\n"
                 "[store \"web\"]\nrole = personal\ncert = server/cert.pem\n"
                 "key = server/key.pem\nservice = " SERVICE "\n%s\n"
                 "[store \"deleted\"]\nrole = deleted\npath = deleted\n",
                 run->dir, ready, source);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: path too long", run->dir);
    }
    r = evc_atomic_write(run->config, text, (size_t)n, 0644, err);
    for (int i = 0; r == 0 && i < run->set->clients + run->set->open_sessions; i++) {
        r = write_agent_config(run, i, err);
    }
    return r;
}

/* An evercert run: its own serve (with SA and push channel), monitor and clients' agents. */
static int
start_evercert_run(struct demo_run *run, const char *tmp, const struct evc_buf *cert,
                   const struct evc_buf *key, struct evc_err *err)
{
    int r;

    if ((r = setup_run(run, tmp, cert, key, err)) != 0 ||
        (r = write_monitor_config(run, err)) != 0 || (r = start_server(run, 1, err)) != 0) {
        return r;
    }
    return start_monitor(run, err);
}

/* The monitor process swaps on its own; its log says when. Non-zero when it stopped. */
static int
look_at_monitor(struct demo_run *run, double now, double *done, struct evc_err *err)
{
    run->replacements = monitor_swaps(run);
    if (*done < 0 && run->replacements >= run->set->rotations) {
        *done = now + TAIL;
    }
    if (waitpid(run->monitor_pid, NULL, WNOHANG) == run->monitor_pid) {
        run->monitor_pid = 0;
        return evc_err_set(err, EVC_ERR_IO, "%s run: the monitor stopped (see %s)", run->name,
                           run->monitor_log);
    }
    return 0;
}

int
demo_run(const struct demo_settings *s, struct demo_result *res, demo_progress_fn progress,
         void *arg, struct evc_err *err)
{
    struct demo_run *a = &res->runs[0];
    struct demo_clients *clients[DEMO_RUNS_MAX] = {NULL};
    struct evc_buf cert, key, fix;
    evc_time a_expiry = 0;
    double t0, fix_due = -1, next_look = 0, next_progress = 1, done[DEMO_RUNS_MAX];
    double cap = 3.0 * s->lifetime + s->manual_fix + 30;
    int ports[DEMO_RUNS_MAX];
    int r;

    memset(res, 0, sizeof(*res));
    /* With --manual, a third run waits for its clients (activate = ready) beside activate = at. */
    res->nruns = s->manual ? 3 : 2;
    a->name = "existing";
    res->runs[1].name = "evercert";
    res->runs[2].name = "evercert-ready";
    res->runs[2].ready = 1;
    for (int i = 0; i < DEMO_RUNS_MAX; i++) {
        res->runs[i].set = s;
        res->runs[i].agents = i > 0;
        done[i] = -1;
    }
    evc_buf_init(&cert, (size_t)1 << 16);
    evc_buf_init(&key, (size_t)1 << 16);
    evc_buf_init(&fix, (size_t)1 << 16);
    snprintf(res->tmp, sizeof(res->tmp), "%s/evercert-demo-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(res->tmp) == NULL) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: %s", res->tmp, strerror(errno));
        res->tmp[0] = '\0';
        goto out;
    }
    /* One first certificate for every run. */
    if ((r = make_pair(s->lifetime, evc_time_now(), &cert, &key, err)) != 0 ||
        (r = not_after(&cert, &a_expiry, err)) != 0 ||
        (r = setup_run(a, res->tmp, &cert, &key, err)) != 0 || (r = start_server(a, 0, err)) != 0) {
        goto out;
    }
    for (int i = 1; i < res->nruns; i++) {
        if ((r = start_evercert_run(&res->runs[i], res->tmp, &cert, &key, err)) != 0) {
            goto out;
        }
    }
    for (int i = 0; i < res->nruns; i++) {
        ports[i] = res->runs[i].port;
    }
    demo_capture_start(&res->capture, s->out_dir, res->tmp, ports, res->nruns);
    t0 = demo_now();
    for (int i = 0; i < res->nruns; i++) {
        char dir[4300];

        snprintf(dir, sizeof(dir), "%s/clients", res->runs[i].dir);
        if ((r = demo_clients_start(&res->runs[i], dir, t0, &clients[i], err)) != 0) {
            goto out;
        }
    }
    for (;;) {
        double now = demo_now() - t0, planned;
        struct timespec ts = {0, 50000000};
        int all_done = 1;

        if (demo_interrupted) {
            r = evc_err_set(err, EVC_ERR_IO, "interrupted; the servers are stopped and %s removed",
                            res->tmp);
            goto out;
        }
        /* existing: replaced at expiry (OpenSSL calls it expired from not_after on). */
        if (evc_time_now() >= a_expiry) {
            evc_buf_reset(&cert);
            evc_buf_reset(&key);
            if ((r = make_pair(s->lifetime, evc_time_now(), &cert, &key, err)) != 0 ||
                (r = save_pair(a, &cert, &key, err)) != 0 ||
                (r = not_after(&cert, &a_expiry, err)) != 0) {
                goto out;
            }
            a->replacements++;
            evc_buf_reset(&fix);
            if ((r = evc_buf_put(&fix, cert.data, cert.len)) != 0) {
                r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
                goto out;
            }
            fix_due = now + s->manual_fix;
        }
        /* ... and a person fixes every trust store by hand, later. */
        if (fix_due >= 0 && now >= fix_due) {
            if ((r = trust_fix(a, &fix, err)) != 0) {
                goto out;
            }
            fix_due = -1;
            if (done[0] < 0) {
                done[0] = now + TAIL;
            }
        }
        /* evercert: each monitor process swaps on its own; its log says when. */
        if (now >= next_look) {
            for (int i = 1; i < res->nruns; i++) {
                if ((r = look_at_monitor(&res->runs[i], now, &done[i], err)) != 0) {
                    goto out;
                }
            }
            next_look = now + LOOK_EVERY;
        }
        planned = done[0] > 0 ? done[0] : (double)s->lifetime + s->manual_fix + TAIL;
        for (int i = 0; i < res->nruns; i++) {
            if (done[i] > planned) {
                planned = done[i];
            }
            all_done = all_done && done[i] >= 0 && now >= done[i];
        }
        if (progress != NULL && now >= next_progress) {
            progress(res, now, planned, arg);
            next_progress += 1;
        }
        if (all_done || now >= cap) {
            res->duration = now;
            break;
        }
        nanosleep(&ts, NULL);
    }
    r = 0;
out:
    for (int i = 0; i < res->nruns; i++) {
        demo_clients_stop(clients[i]);
    }
    for (int i = 0; i < res->nruns; i++) {
        stop_monitor(&res->runs[i]);
        stop_server(&res->runs[i]);
    }
    for (int i = 0; i < res->nruns; i++) {
        reap_server(&res->runs[i]);
    }
    for (int i = 1; r == 0 && i < res->nruns; i++) {
        res->runs[i].replacements = monitor_swaps(&res->runs[i]);
        monitor_record(&res->runs[i]);
    }
    demo_capture_stop(&res->capture);
    if (r == 0) {
        res->wire_ok =
            demo_capture_summarise(&res->capture, res->tmp, ports, res->nruns, res->wire) == 0;
    }
    evc_buf_free(&cert);
    evc_buf_free(&key);
    evc_buf_free(&fix);
    for (int i = 0; r == 0 && i < res->nruns; i++) {
        struct demo_run *run = &res->runs[i];

        if (demo_figures_compute(run->log.s, run->log.n, run->log.h, run->log.nh, s->clients,
                                 res->duration, &run->fig) != 0) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        }
    }
    /* The keys go with the temporary directory. */
    if (res->tmp[0] != '\0' && getenv("EVERCERT_DEMO_KEEP") == NULL) {
        nftw(res->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    return r;
}

void
demo_result_free(struct demo_result *r)
{
    for (int i = 0; i < r->nruns; i++) {
        if (r->runs[i].name != NULL) {
            demo_log_free(&r->runs[i].log);
        }
    }
}
