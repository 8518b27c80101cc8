/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The experiment's set-up and its two runs, side by side on one clock.
 *   existing: at expiry the certificate is replaced as the study's script
 *     does it (new key, new self-signed certificate, the server reloads
 *     its files); the clients keep their trust until a simulated person
 *     adds the new certificate to every trust store manual_fix seconds
 *     later.
 *   evercert: the monitor's renewal pass (evc_renew_run, every 250 ms)
 *     renews at half the lifetime, stages the successor and its SA
 *     (activated after half the time left), which
 *     `evercert serve` hands out in the handshake; the clients check and
 *     apply it; the pass swaps the pair in at activate_at.
 * Both serve a self-signed certificate the clients trust directly, as in
 * the study; each run has its own `evercert serve` on a loopback port.
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
#include "evercert/config.h"
#include "evercert/renew.h"
#include "evercert/stores.h"
#include "evercert/time.h"
#include "base/atomic.h"
#include "base/file.h"
#include "demo/demo.h"

volatile sig_atomic_t demo_interrupted;

#define SERVICE "web.test"
#define RENEW_EVERY 0.25   /* seconds between the monitor's passes */
#define TAIL 3.0           /* seconds each run goes on after its last event */
#define SERVER_START_MAX 5 /* seconds for `evercert serve` to listen */

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

        snprintf(path, sizeof(path), "%s/clients/client-%02d.pem", run->dir, i);
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

        snprintf(path, sizeof(path), "%s/clients/client-%02d.pem", run->dir, i);
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

/* Start `evercert serve` for the run; wait until it listens. */
static int
start_server(struct demo_run *run, int with_sa, struct evc_err *err)
{
    char listen[32], log[4300];
    char *argv[12];
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
        argv[n++] = "--sa";
        argv[n++] = run->sa;
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
    return free_port(&run->port, err);
}

/* The monitor's configuration for the evercert run: renew at half the lifetime. */
static int
write_monitor_config(struct demo_run *run, struct evc_config **cfg, struct evc_err *err)
{
    char text[512];
    int n = snprintf(text, sizeof(text),
                     "; evercert demo: the monitor's pass, every %.2f s\n"
                     "[policy]\nexpiration_threshold = 50%%\ndistribution_window = 50%%\n\n"
                     "[store \"web\"]\nrole = personal\ncert = server/cert.pem\n"
                     "key = server/key.pem\nservice = " SERVICE "\n\n"
                     "[store \"deleted\"]\nrole = deleted\npath = deleted\n",
                     RENEW_EVERY);
    int r;

    if ((r = evc_atomic_write(run->config, text, (size_t)n, 0644, err)) != 0) {
        return r;
    }
    return evc_config_load(run->config, cfg, err);
}

/* One pass of the monitor; counts the successors it swapped in. */
static int
monitor_pass(struct demo_run *run, const struct evc_config *cfg, struct evc_err *err)
{
    struct evc_renew_opts o = {cfg, evc_time_now(), 0, 0, 0};
    struct evc_renew_result res;
    int r;

    memset(&res, 0, sizeof(res));
    r = evc_renew_run(&o, &res, err);
    for (size_t i = 0; i < res.nactions; i++) {
        if (res.actions[i].done && strcmp(res.actions[i].action, "activate") == 0) {
            run->replacements++;
        }
    }
    evc_renew_result_clear(&res);
    return r == EVC_ERR_BUSY ? 0 : r;
}

int
demo_run(const struct demo_settings *s, struct demo_result *res, demo_progress_fn progress,
         void *arg, struct evc_err *err)
{
    struct demo_run *a = &res->runs[0], *b = &res->runs[1];
    struct demo_clients *ca = NULL, *cb = NULL;
    struct evc_config *cfg = NULL;
    struct evc_buf cert, key, fix;
    evc_time a_expiry = 0;
    double t0, fix_due = -1, next_pass = 0, next_progress = 1, a_done = -1, b_done = -1;
    double cap = 3.0 * s->lifetime + s->manual_fix + 30;
    int r;

    memset(res, 0, sizeof(*res));
    a->name = "existing";
    b->name = "evercert";
    a->set = b->set = s;
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
    /* One first certificate for both runs. */
    if ((r = make_pair(s->lifetime, evc_time_now(), &cert, &key, err)) != 0 ||
        (r = not_after(&cert, &a_expiry, err)) != 0 ||
        (r = setup_run(a, res->tmp, &cert, &key, err)) != 0 ||
        (r = setup_run(b, res->tmp, &cert, &key, err)) != 0 ||
        (r = write_monitor_config(b, &cfg, err)) != 0 || (r = start_server(a, 0, err)) != 0 ||
        (r = start_server(b, 1, err)) != 0) {
        goto out;
    }
    demo_capture_start(&res->capture, s->out_dir, res->tmp, a->port, b->port);
    t0 = demo_now();
    {
        char dir[4300];

        snprintf(dir, sizeof(dir), "%s/clients", a->dir);
        if ((r = demo_clients_start(a, dir, t0, &ca, err)) != 0) {
            goto out;
        }
        snprintf(dir, sizeof(dir), "%s/clients", b->dir);
        if ((r = demo_clients_start(b, dir, t0, &cb, err)) != 0) {
            goto out;
        }
    }
    for (;;) {
        double now = demo_now() - t0;
        struct timespec ts = {0, 50000000};

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
            if (a_done < 0) {
                a_done = now + TAIL;
            }
        }
        /* evercert: the monitor's pass. */
        if (now >= next_pass) {
            if ((r = monitor_pass(b, cfg, err)) != 0) {
                goto out;
            }
            next_pass = now + RENEW_EVERY;
            if (b_done < 0 && b->replacements >= s->rotations) {
                b_done = now + TAIL;
            }
        }
        if (progress != NULL && now >= next_progress) {
            double planned = a_done > 0 ? a_done : (double)s->lifetime + s->manual_fix + TAIL;

            if (b_done > planned) {
                planned = b_done;
            }
            progress(res, now, planned, arg);
            next_progress += 1;
        }
        if ((a_done >= 0 && b_done >= 0 && now >= a_done && now >= b_done) || now >= cap) {
            res->duration = now;
            break;
        }
        nanosleep(&ts, NULL);
    }
    r = 0;
out:
    demo_clients_stop(ca);
    demo_clients_stop(cb);
    stop_server(a);
    stop_server(b);
    reap_server(a);
    reap_server(b);
    demo_capture_stop(&res->capture);
    if (r == 0) {
        res->wire_ok =
            demo_capture_summarise(&res->capture, res->tmp, a->port, b->port, res->wire) == 0;
    }
    evc_config_free(cfg);
    evc_buf_free(&cert);
    evc_buf_free(&key);
    evc_buf_free(&fix);
    for (int i = 0; r == 0 && i < 2; i++) {
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
    for (int i = 0; i < 2; i++) {
        if (r->runs[i].name != NULL) {
            demo_log_free(&r->runs[i].log);
        }
    }
}
