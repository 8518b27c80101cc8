/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The packet capture, as the study took one: tshark on the loopback
 * interface while the runs go, then a summary per run (by server port) of
 * what the wire showed: connections opened (SYN), closed (FIN), reset
 * (RST), and the TLS alerts (OpenSSL's client sends an alert about the
 * server's certificate before it switches to handshake keys, so the
 * capture names it). Without tshark, or without the right to capture,
 * the demo says why and goes on.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "demo/demo.h"

#define CAPTURE_START_MAX 10 /* seconds for tshark to say it captures */
#define CAPTURE_STOP_MAX 10
#define SUMMARY_MAX ((size_t)256 * 1024 * 1024)

/* The last non-empty line of a log file, for a message. */
static void
last_line(const char *path, char *out, size_t len)
{
    struct evc_buf b;
    struct evc_err err = {0};

    snprintf(out, len, "no output");
    evc_buf_init(&b, (size_t)1 << 16);
    if (evc_file_read(path, (size_t)1 << 16, &b, &err) == 0) {
        size_t end = b.len, start;

        while (end > 0 && (b.data[end - 1] == '\n' || b.data[end - 1] == '\r')) {
            end--;
        }
        for (start = end; start > 0 && b.data[start - 1] != '\n'; start--) {
        }
        if (end > start) {
            snprintf(out, len, "%.*s", (int)(end - start > 200 ? 200 : end - start),
                     (const char *)b.data + start);
        }
    }
    evc_buf_free(&b);
}

void
demo_capture_start(struct demo_capture *c, const char *out_dir, const char *tmp, const int *ports,
                   int nports)
{
    char filter[32 * DEMO_RUNS_MAX];
    size_t fl = 0;
    char *argv[] = {"tshark", "-q", "-i", "lo", "-f", filter, "-w", c->file, NULL};
    pid_t pid;
    int r;

    memset(c, 0, sizeof(*c));
    snprintf(c->file, sizeof(c->file), "%s/capture.pcapng", out_dir);
    snprintf(c->log, sizeof(c->log), "%s/tshark.log", tmp);
    filter[0] = '\0';
    for (int i = 0; i < nports && i < DEMO_RUNS_MAX; i++) {
        fl += (size_t)snprintf(filter + fl, sizeof(filter) - fl, "%stcp port %d",
                               i > 0 ? " or " : "", ports[i]);
    }
    if ((r = demo_spawn(argv, 1, c->log, &pid)) != 0) {
        snprintf(c->why, sizeof(c->why), "%s",
                 r == ENOENT ? "tshark is not installed" : strerror(r));
        return;
    }
    c->pid = pid;
    if ((r = demo_wait_ready(pid, c->log, "Capturing on", CAPTURE_START_MAX)) == 0) {
        c->running = 1;
    } else if (r == 1) {
        c->pid = 0; /* reaped */
    }
    if (!c->running) {
        char line[240];

        last_line(c->log, line, sizeof(line));
        snprintf(c->why, sizeof(c->why), "tshark did not start capturing: %.200s", line);
        if (c->pid > 0) {
            kill(c->pid, SIGKILL);
            (void)demo_wait_bounded(c->pid, 1);
            c->pid = 0;
        }
    }
}

void
demo_capture_stop(struct demo_capture *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGINT); /* tshark finishes the file on SIGINT */
        (void)demo_wait_bounded(c->pid, CAPTURE_STOP_MAX);
        c->pid = 0;
    }
}

/* One tshark boolean field: "1" or "True" (tshark's versions differ). */
static int
flag(const char *f, size_t n)
{
    return (n == 1 && f[0] == '1') || (n == 4 && strncmp(f, "True", 4) == 0);
}

int
demo_wire_parse(const char *text, size_t len, const int *ports, int nports, struct demo_wire *out)
{
    const char *p = text, *end = text + len;

    memset(out, 0, (size_t)nports * sizeof(*out));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        const char *f[7];
        size_t fl[7] = {0};
        int nf = 0, run = -1;
        long sport, dport;

        /* srcport,dstport,syn,ack,fin,reset,alert-descriptions */
        for (const char *q = p; nf < 7;) {
            const char *comma = nf < 6 ? memchr(q, ',', (size_t)(eol - q)) : NULL;

            f[nf] = q;
            fl[nf] = (size_t)((comma != NULL ? comma : eol) - q);
            nf++;
            if (comma == NULL) {
                break;
            }
            q = comma + 1;
        }
        p = nl != NULL ? nl + 1 : end;
        if (nf < 6) {
            continue; /* not a TCP packet line */
        }
        sport = strtol(f[0], NULL, 10);
        dport = strtol(f[1], NULL, 10);
        for (int i = 0; i < nports && run < 0; i++) {
            if (sport == ports[i] || dport == ports[i]) {
                run = i;
            }
        }
        if (run < 0) {
            continue;
        }
        out[run].packets++;
        out[run].syn += flag(f[2], fl[2]) && !flag(f[3], fl[3]);
        out[run].fin += flag(f[4], fl[4]);
        out[run].rst += flag(f[5], fl[5]);
        /* Several alerts in one packet come as "48,48" after the sixth comma. */
        for (size_t i = 0; nf == 7 && i < fl[6];) {
            char *stop;
            long a = strtol(f[6] + i, &stop, 10);

            if (stop == f[6] + i) {
                break;
            }
            if (a >= 0 && a < DEMO_ALERTS) {
                out[run].alerts[a]++;
            }
            i = (size_t)(stop - f[6]);
            while (i < fl[6] && (f[6][i] == ',' || f[6][i] == ' ')) {
                i++;
            }
        }
    }
    return 0;
}

int
demo_capture_summarise(struct demo_capture *c, const char *tmp, const int *ports, int nports,
                       struct demo_wire *out)
{
    char txt[4200];
    char *argv[] = {"tshark",
                    "-r",
                    c->file,
                    "-T",
                    "fields",
                    "-E",
                    "separator=,",
                    "-e",
                    "tcp.srcport",
                    "-e",
                    "tcp.dstport",
                    "-e",
                    "tcp.flags.syn",
                    "-e",
                    "tcp.flags.ack",
                    "-e",
                    "tcp.flags.fin",
                    "-e",
                    "tcp.flags.reset",
                    "-e",
                    "tls.alert_message.desc",
                    NULL};
    struct evc_buf b;
    struct evc_err err = {0};
    pid_t pid;
    int r;

    if (!c->running) {
        return -1;
    }
    snprintf(txt, sizeof(txt), "%s/capture.txt", tmp);
    if ((r = demo_spawn(argv, 1, txt, &pid)) != 0) {
        snprintf(c->why, sizeof(c->why), "tshark -r: %s", strerror(r));
        return -1;
    }
    if (demo_wait_bounded(pid, 120) != 0) {
        char line[240];

        last_line(txt, line, sizeof(line));
        snprintf(c->why, sizeof(c->why), "tshark -r capture.pcapng failed: %.200s", line);
        return -1;
    }
    evc_buf_init(&b, SUMMARY_MAX);
    if (evc_file_read(txt, SUMMARY_MAX, &b, &err) != 0) {
        snprintf(c->why, sizeof(c->why), "%.200s", evc_err_message(&err));
        evc_buf_free(&b);
        return -1;
    }
    r = demo_wire_parse((const char *)b.data, b.len, ports, nports, out);
    evc_buf_free(&b);
    return r;
}
