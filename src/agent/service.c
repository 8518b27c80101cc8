/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's loop. One thread: signals through a signalfd, the push
 * connections, and timers for each server's next contact, each pending
 * activation, retirement and hold, all in one poll. A round contacts
 * every server that is due; --once is one round, with a short read of each
 * push channel, and an exit status for cron.
 *
 * SIGTERM and SIGINT also have a second signalfd of their own, which every
 * blocking network step (a handshake, a fetch) polls beside its socket:
 * a stop signal ends the step at once, whatever the peer does, and the
 * loop then stops. Each such step also has one overall deadline.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <curl/curl.h>

#ifdef EVC_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "evercert/limits.h"
#include "evercert/time.h"
#include "agent/agent_int.h"

#define ONCE_PUSH_WAIT_MS 1000

static void
sd_say(const char *state)
{
#ifdef EVC_HAVE_SYSTEMD
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

int
evc_agent_stopping(const struct evc_agent *a)
{
    struct pollfd pfd = {a->cancel_fd, POLLIN, 0};

    return a->cancel_fd >= 0 && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

int
evc_agent_runtime_alloc(struct evc_agent *a, struct evc_err *err)
{
    if ((a->push = calloc(a->conf->nservers, sizeof(*a->push))) == NULL ||
        (a->reject_log = calloc(a->conf->nservers, sizeof(*a->reject_log))) == NULL) {
        free(a->push);
        a->push = NULL;
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < a->conf->nservers; i++) {
        a->push[i].c.fd = -1;
        evc_buf_init(&a->push[i].in, EVC_SA_MAX + 1); /* + 1: the buffer keeps a NUL */
    }
    return 0;
}

void
evc_agent_runtime_free(struct evc_agent *a)
{
    int64_t next = 0;

    for (size_t i = 0; a->push != NULL && i < a->conf->nservers; i++) {
        evc_agent_reject_flush(a, i, evc_mono_ms(), 1, &next);
        evc_tls_conn_close(&a->push[i].c);
        X509_free(a->push[i].leaf);
        evc_buf_free(&a->push[i].in);
    }
    free(a->push);
    a->push = NULL;
    free(a->reject_log);
    a->reject_log = NULL;
}

/* --once: the SA each push channel hands over at connect, if it comes within a second. */
static void
once_push(struct evc_agent *a)
{
    struct pollfd pfd;

    for (size_t i = 0; i < a->conf->nservers; i++) {
        int64_t end = evc_mono_ms() + ONCE_PUSH_WAIT_MS;

        evc_push_connect(a, i);
        while (a->push[i].c.fd != -1 && a->push[i].offered == 0) {
            int64_t left = end - evc_mono_ms();

            if (left <= 0) {
                break;
            }
            /* What OpenSSL holds already first, then the socket. */
            if (!SSL_has_pending(a->push[i].c.ssl)) {
                pfd.fd = a->push[i].c.fd;
                pfd.events = POLLIN;
                if (poll(&pfd, 1, (int)left) <= 0) {
                    break;
                }
            }
            evc_push_read(a, i);
        }
        if (a->push[i].c.fd != -1 && a->push[i].in.len > 0) {
            evc_push_close(a, i, "an SA did not arrive whole within a second");
        }
    }
}

static void
say_fixed(void *arg, const char *msg)
{
    evc_logf(&((struct evc_agent *)arg)->log, LOG_WARNING, "%s", msg);
}

/*
 * SIGHUP: the new configuration replaces the old only if it is good. The
 * state stays the one opened (and locked) first, and a changed [agent]
 * state says so.
 */
static void
reload(struct evc_agent *a, int64_t **due)
{
    struct evc_config *nc = NULL;
    struct evc_err err = {0};
    int64_t *nd;

    sd_say("RELOADING=1");
    /* The file alone: opening the state of a changed path would make a database there. */
    if (evc_config_load(a->config_path, &nc, &err) == 0 && nc->nservers == 0) {
        (void)evc_err_set(&err, EVC_ERR_CONFIG, "%s: no [server \"name\"] sections to follow",
                          a->config_path);
    }
    if (nc == NULL || nc->nservers == 0) {
        evc_logf(&a->log, LOG_ERR, "reload refused, the old configuration stays: %s",
                 evc_err_message(&err));
        evc_config_free(nc);
        sd_say("READY=1");
        return;
    }
    if ((nd = calloc(nc->nservers, sizeof(*nd))) == NULL) {
        evc_config_free(nc);
        sd_say("READY=1");
        return;
    }
    (void)evc_config_keep_fixed(a->conf, nc, say_fixed, a);
    evc_agent_runtime_free(a);
    evc_config_free(a->conf);
    a->conf = nc;
    evc_log_init(&a->log, a->conf->notify.log, "evercert agent");
    free(*due);
    *due = nd;
    if (evc_agent_runtime_alloc(a, &err) != 0) {
        evc_logf(&a->log, LOG_ERR, "%s", evc_err_message(&err));
    }
    evc_logf(&a->log, LOG_INFO, "configuration reloaded: %zu server%s", a->conf->nservers,
             a->conf->nservers == 1 ? "" : "s");
    sd_say("READY=1");
}

int
evc_agent_run(const struct evc_agent_opts *o, int *status, struct evc_err *err)
{
    struct evc_agent a;
    struct sigaction ignore, oldpipe;
    sigset_t mask, old, stopmask;
    struct pollfd *pfd = NULL;
    int64_t *due = NULL;
    char state[EVC_PATH_MAX];
    int sfd = -1, r, stop = 0;
    evc_time next;

    *status = 3;
    /* An ack may be written to a channel the server has closed: EPIPE, not a signal. */
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &oldpipe);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((r = evc_agent_open(&a, o->config_path, o->clock_offset, 1, err)) != 0) {
        if (r == EVC_ERR_BUSY) {
            evc_err_set(err, r, "%s: another evercert agent runs on this state", o->config_path);
        }
        sigaction(SIGPIPE, &oldpipe, NULL);
        return r;
    }
    /* After evc_agent_open's evc_log_init, which clears it; --once never reloads. */
    a.fleet_on = 1;
    a.log.tee = o->on_line;
    a.log.tee_arg = o->line_arg;
    if ((r = evc_agent_runtime_alloc(&a, err)) != 0) {
        goto out;
    }
    if (o->once) {
        evc_agent_tick(&a, evc_agent_now(&a), &next);
        for (size_t i = 0; i < a.conf->nservers; i++) {
            evc_agent_contact(&a, i, evc_agent_now(&a));
        }
        once_push(&a);
        evc_agent_tick(&a, evc_agent_now(&a), &next);
        *status = a.status;
        goto out;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &old);
    sigemptyset(&stopmask);
    sigaddset(&stopmask, SIGTERM);
    sigaddset(&stopmask, SIGINT);
    if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1 ||
        (a.cancel_fd = signalfd(-1, &stopmask, SFD_CLOEXEC)) == -1) {
        r = evc_err_set(err, EVC_ERR_IO, "signalfd: %s", strerror(errno));
        goto out;
    }
    if ((due = calloc(a.conf->nservers, sizeof(*due))) == NULL) {
        r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
        goto out;
    }
    evc_agent_state_path(a.config_path, a.conf->agent.state, state, sizeof(state));
    evc_logf(&a.log, LOG_INFO, "following %zu server%s; state %s", a.conf->nservers,
             a.conf->nservers == 1 ? "" : "s", state);
    sd_say("READY=1");
    while (!stop) {
        evc_time now = evc_agent_now(&a);
        int64_t mono = evc_mono_ms(), wake_ms = 0, timeout;
        size_t n = 0;

        evc_agent_tick(&a, now, &next);
        for (size_t i = 0; i < a.conf->nservers && !evc_agent_stopping(&a); i++) {
            const struct evc_server_conf *v = &a.conf->servers[i];

            if ((v->sources & (EVC_SOURCE_HANDSHAKE | EVC_SOURCE_URL)) && due[i] <= now) {
                evc_agent_contact(&a, i, now);
                due[i] = now + v->interval;
                evc_push_ack(&a, i); /* a successor the contact wrote, told now */
            }
            evc_push_connect(&a, i);
            evc_push_check(&a, i, mono, &wake_ms);
            evc_agent_reject_flush(&a, i, evc_mono_ms(), 0, &wake_ms);
            if ((v->sources & (EVC_SOURCE_HANDSHAKE | EVC_SOURCE_URL)) &&
                (next == 0 || due[i] < next)) {
                next = due[i];
            }
            if (a.push[i].c.fd == -1 && (v->sources & EVC_SOURCE_PUSH) &&
                (wake_ms == 0 || a.push[i].retry_at < wake_ms)) {
                wake_ms = a.push[i].retry_at;
            }
        }
        a.status = 0;
        /* Sleep until the first of: a timer, a push byte, a signal. */
        timeout = 3600 * 1000;
        if (next != 0) {
            int64_t t = (next - evc_agent_now(&a)) * 1000;

            timeout = t < timeout ? t : timeout;
        }
        if (wake_ms != 0 && wake_ms - mono < timeout) {
            timeout = wake_ms - mono;
        }
        if (timeout < 0) {
            timeout = 0;
        }
        free(pfd);
        if ((pfd = calloc(a.conf->nservers + 1, sizeof(*pfd))) == NULL) {
            r = evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
            goto out;
        }
        pfd[n].fd = sfd;
        pfd[n++].events = POLLIN;
        for (size_t i = 0; i < a.conf->nservers; i++) {
            pfd[n].fd = a.push[i].c.fd;
            pfd[n++].events = POLLIN | (evc_push_ack_waits(&a, i) ? POLLOUT : 0);
            if (a.push[i].c.fd != -1 && SSL_has_pending(a.push[i].c.ssl)) {
                timeout = 0;
            }
        }
        if (poll(pfd, n, (int)timeout) < 0 && errno != EINTR) {
            r = evc_err_set(err, EVC_ERR_IO, "poll: %s", strerror(errno));
            goto out;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    reload(&a, &due);
                    continue; /* the push table was rebuilt: its pollfds are stale */
                }
                evc_logf(&a.log, LOG_INFO, "stopping on signal %u", si.ssi_signo);
                sd_say("STOPPING=1");
                stop = 1;
            }
        }
        for (size_t i = 0; !stop && i < a.conf->nservers; i++) {
            if (a.push[i].c.fd != -1 && ((pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) ||
                                         SSL_has_pending(a.push[i].c.ssl))) {
                evc_push_read(&a, i);
            }
            /* An ack that waited for the socket: writable, or readable when TLS wanted a read. */
            if (a.push[i].c.fd != -1 && a.push[i].ack_len > 0 &&
                (pfd[i + 1].revents & (a.push[i].ack_wants_read ? POLLIN : POLLOUT))) {
                evc_push_ack(&a, i);
            }
        }
    }
    *status = 0;
    r = 0;
out:
    if (a.cancel_fd != -1) {
        close(a.cancel_fd);
        a.cancel_fd = -1;
    }
    if (sfd != -1) {
        close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    free(pfd);
    free(due);
    evc_agent_runtime_free(&a);
    evc_agent_close(&a);
    curl_global_cleanup();
    sigaction(SIGPIPE, &oldpipe, NULL);
    return r;
}
