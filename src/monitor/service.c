/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's loop. One thread; signals arrive through a signalfd and
 * triggers through a Unix socket beside the state database, both polled
 * between steps, so SIGTERM never interrupts a write and a pass is never
 * run twice at once. Time is the wall clock plus an offset (--at), so a
 * test can start a minute before a scheduled run and wait seconds.
 * When it wakes is service_clock.c's; what a pass does, service_pass.c's.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#ifdef EVC_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "base/atomic.h"
#include "base/file.h"
#include "monitor/service_int.h"

static int
load(struct monitor *m, struct evc_config **out, struct evc_err *err)
{
    return evc_config_load(m->config_path, out, err);
}

/* Tell systemd (Type=notify) where libsystemd is present; a no-op elsewhere. */
static void
notify(const char *state)
{
#ifdef EVC_HAVE_SYSTEMD
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

static void
apply_log(struct monitor *m)
{
    evc_log_init(&m->log, m->conf->notify.log, "evercert monitor");
}

static void
say_fixed(void *arg, const char *msg)
{
    mlog((struct monitor *)arg, LOG_WARNING, "%s", msg);
}

/*
 * SIGHUP: the new configuration replaces the old only if it parses. What
 * only a restart can change (the state, opened and locked at start, with
 * the trigger socket beside it) keeps its old value, and says so.
 */
static void
reload(struct monitor *m)
{
    struct evc_config *c = NULL;
    struct evc_err err = {0};

    notify("RELOADING=1");
    if (load(m, &c, &err) != 0) {
        mlog(m, LOG_ERR, "reload refused, the old configuration stays: %s", evc_err_message(&err));
        notify("READY=1");
        return;
    }
    (void)evc_config_keep_fixed(m->conf, c, say_fixed, m);
    evc_config_free(m->conf);
    m->conf = c;
    memset(m->wait_logged, 0, sizeof(m->wait_logged));
    apply_log(m);
    if (evc_monitor_plan_next(m, &err) != 0) {
        mlog(m, LOG_ERR, "%s", evc_err_message(&err));
    }
    mlog(m, LOG_INFO, "configuration reloaded");
    evc_monitor_plan_clock(m, "reload", evc_monitor_vnow(m));
    notify("READY=1");
}

static int
listen_socket(struct monitor *m, struct evc_err *err)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(m->sock_path) >= sizeof(sa.sun_path)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: socket path too long", m->sock_path);
    }
    memcpy(sa.sun_path, m->sock_path, strlen(m->sock_path) + 1);
    (void)unlink(m->sock_path); /* ours: the state lock is held */
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || chmod(m->sock_path, 0600) == -1 ||
        listen(fd, 4) == -1) {
        int e = errno;

        if (fd != -1) {
            close(fd);
        }
        return evc_err_set(err, EVC_ERR_IO, "%s: %s", m->sock_path, strerror(e));
    }
    return fd;
}

/* A trigger: one line in ("run"), a pass, one line out. */
static void
serve_trigger(struct monitor *m, int lfd)
{
    char req[16] = "", summary[512], reply[600];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    struct timeval tv = {2, 0};
    ssize_t n;

    if (c == -1) {
        return;
    }
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = read(c, req, sizeof(req) - 1);
    if (n > 0 && strncmp(req, "run", 3) == 0) {
        int st = evc_monitor_pass(m, "trigger", summary, sizeof(summary));

        snprintf(reply, sizeof(reply), "%d %s\n", st, summary);
    } else {
        snprintf(reply, sizeof(reply), "3 status=3 error=bad request\n");
    }
    if (write(c, reply, strlen(reply)) < 0) {
        mlog(m, LOG_ERR, "trigger: the caller left before the reply");
    }
    close(c);
}

int
evc_monitor_run(const struct evc_monitor_opts *o, int *status, struct evc_err *err)
{
    struct monitor m;
    sigset_t mask, old;
    int sfd = -1, lfd = -1, r = EVC_ERR_INTERNAL, stop = 0;
    char summary[512];

    *status = 0;
    memset(&m, 0, sizeof(m));
    m.o = o;
    m.backoff = BACKOFF_MIN;
    snprintf(m.config_path, sizeof(m.config_path), "%s", o->config_path);
    if ((r = load(&m, &m.conf, err)) != 0) {
        return r;
    }
    apply_log(&m);
    evc_config_state_path(m.config_path, m.conf->monitor.state, m.state_path, sizeof(m.state_path));
    if (strncmp(m.state_path, "/var/lib/evercert/", 18) == 0 &&
        (r = evc_mkdirs("/var/lib/evercert", 0700, err)) != 0) {
        goto out;
    }
    if ((r = evc_state_open(m.state_path, 1, &m.st, err)) != 0) {
        goto out;
    }
    if (o->once) {
        *status = evc_monitor_pass(&m, "once", summary, sizeof(summary));
        r = 0;
        goto out;
    }
    if ((r = evc_monitor_plan_next(&m, err)) != 0) {
        goto out;
    }
    (void)evc_path_fmt(m.sock_path, sizeof(m.sock_path), "%s.sock", m.state_path);
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGPIPE);
    if (sigprocmask(SIG_BLOCK, &mask, &old) == -1 ||
        (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1) {
        r = evc_err_set(err, EVC_ERR_IO, "signals: %s", strerror(errno));
        goto out;
    }
    if ((lfd = listen_socket(&m, err)) < 0) {
        r = lfd;
        lfd = -1;
        goto out;
    }
    {
        char when[EVC_TIME_TEXT_MAX];

        evc_time_format(m.next_start, when);
        mlog(&m, LOG_INFO, "started; next report pass %s; state %s",
             m.next_start != 0 ? when : "never (disabled)", m.state_path);
        for (size_t i = 0; i < m.conf->nstores; i++) {
            if (m.conf->stores[i].implicit) {
                mlog(&m, LOG_INFO,
                     "replaced certificates are kept in %s (no store has role = deleted)",
                     m.conf->stores[i].path);
            }
        }
    }
    /* Work due or overdue at the start (the monitor was down) runs at once. */
    evc_monitor_plan_clock(&m, "start", evc_monitor_vnow(&m));
    notify("READY=1");
    while (!stop) {
        evc_time now = evc_monitor_vnow(&m), wake = evc_monitor_next_wake(&m, NULL);
        struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
        const char *why;
        int64_t ms;

        if (m.next_start != 0 && m.next_start <= now) {
            evc_monitor_pass(&m, "schedule", summary, sizeof(summary));
            continue;
        }
        if (wake != 0 && wake <= now) {
            (void)evc_monitor_next_wake(&m, &why);
            evc_monitor_pass(&m, why, summary, sizeof(summary));
            continue;
        }
        if (m.next_start != 0 && (wake == 0 || m.next_start < wake)) {
            wake = m.next_start;
        }
        /* Look at the clock at least once a minute: it may jump. */
        ms = wake == 0 ? 60000 : (wake - now) * 1000;
        if (ms > 60000) {
            ms = 60000;
        }
        if (poll(pfd, 2, (int)ms) <= 0) {
            continue;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    reload(&m);
                } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    mlog(&m, LOG_INFO, "stopping");
                    notify("STOPPING=1");
                    stop = 1;
                }
            }
        }
        if (!stop && (pfd[1].revents & POLLIN)) {
            serve_trigger(&m, lfd);
        }
    }
    r = 0;
out:
    if (lfd != -1) {
        close(lfd);
        unlink(m.sock_path);
    }
    if (sfd != -1) {
        close(sfd);
    }
    evc_monitor_fleet_close(&m);
    evc_state_close(m.st);
    evc_config_free(m.conf);
    return r;
}

int
evc_monitor_trigger(const char *config_path, char *reply, size_t len, int *status,
                    struct evc_err *err)
{
    struct evc_config *c = NULL;
    struct sockaddr_un sa;
    char state[EVC_PATH_MAX], sock[EVC_PATH_MAX];
    size_t got = 0;
    ssize_t n;
    int fd = -1, r;

    *status = 3;
    reply[0] = '\0';
    if ((r = evc_config_load(config_path, &c, err)) != 0) {
        return r;
    }
    evc_config_state_path(config_path, c->monitor.state, state, sizeof(state));
    evc_config_free(c);
    (void)evc_path_fmt(sock, sizeof(sock), "%s.sock", state);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(sock) >= sizeof(sa.sun_path)) {
        return evc_err_set(err, EVC_ERR_LIMIT, "%s: socket path too long", sock);
    }
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: no monitor is running (%s)", sock, strerror(errno));
        goto out;
    }
    if (write(fd, "run\n", 4) != 4) {
        r = evc_err_set(err, EVC_ERR_IO, "%s: %s", sock, strerror(errno));
        goto out;
    }
    while (got + 1 < len && (n = read(fd, reply + got, len - got - 1)) > 0) {
        got += (size_t)n;
    }
    reply[got] = '\0';
    if (got == 0 || reply[0] < '0' || reply[0] > '3') {
        r = evc_err_set(err, EVC_ERR_IO, "%s: no answer from the monitor", sock);
        goto out;
    }
    *status = reply[0] - '0';
    r = 0;
out:
    if (fd != -1) {
        close(fd);
    }
    return r;
}
