/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `evercert demo`: the study's experiment on 127.0.0.1. Two runs at the
 * same time (three with --manual), each with its own `evercert serve`,
 * the same clients and the same timings. "existing" replaces the
 * certificate at expiry and a simulated person fixes the clients' trust
 * stores later; "evercert" renews at the threshold, announces the
 * successor in the handshake and swaps at activate_at; "evercert-ready"
 * swaps once its clients hold the successor, by a deadline. Every figure is computed from what the
 * clients recorded, never from the settings.
 *
 * This layer sits beside cli/ (it runs the whole stack) and is linked
 * into the command only, not into libevercert.
 */
#ifndef EVC_DEMO_H
#define EVC_DEMO_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "evercert/error.h"

#define DEMO_CLIENTS_MAX 200
#define DEMO_LIFETIME_MIN 10
#define DEMO_LIFETIME_MAX 3600
#define DEMO_MANUAL_FIX_MAX 3600
/* Records kept per run; more is an error, not a reallocation without end. */
#define DEMO_SESSIONS_MAX ((size_t)4 * 1024 * 1024)
#define DEMO_ALERTS 256

/* The steps of a session the client timestamps, in order. */
enum demo_step {
    DEMO_STEP_TCP = 0,
    DEMO_STEP_CLIENT_HELLO,
    DEMO_STEP_SERVER_HELLO,
    DEMO_STEP_CERTIFICATE,
    DEMO_STEP_ALERT,
    DEMO_STEP_FINISHED,
    DEMO_STEP_RESPONSE,
    DEMO_STEPS
};

enum demo_kind {
    DEMO_NEW = 0,      /* a new session: connect, handshake, one request, close */
    DEMO_OPEN_CONNECT, /* an open session's handshake (at the start, or after a drop) */
    DEMO_OPEN_REQUEST  /* a request on an open session */
};

/* One thing a client tried, as it saw it. */
struct demo_session {
    double t;                  /* start, seconds since the runs began */
    float step_ms[DEMO_STEPS]; /* from the TCP connect; -1 not reached */
    uint64_t leaf;             /* first 8 bytes of the presented leaf's SHA-256; 0 none */
    uint32_t sa_bytes;         /* SA bytes the handshake carried */
    int16_t client;
    int16_t alert; /* TLS AlertDescription seen, -1 none */
    uint8_t kind;
    uint8_t ok;
};

/* From t on, the client's trust store holds the certificate leaf. */
struct demo_hold {
    double t;
    uint64_t leaf;
    int client;
};

/* One run's records; client threads append under the lock. */
struct demo_log {
    pthread_mutex_t lock;
    struct demo_session *s;
    size_t n, cap;
    struct demo_hold *h;
    size_t nh, caph;
    long failed;      /* running counts, for the progress line */
    long sa_rejected; /* SAs a client refused (should stay 0) */
    char sa_reason[160];
};

int demo_log_init(struct demo_log *l);
void demo_log_free(struct demo_log *l);
/* 0, or -1 when the log is full (DEMO_SESSIONS_MAX) or memory ran out. */
int demo_log_session(struct demo_log *l, const struct demo_session *s);
int demo_log_hold(struct demo_log *l, double t, uint64_t leaf, int client);

/* What one client went through. */
struct demo_client_figures {
    long tries; /* sessions (or requests on an open session) */
    long failed;
    double down; /* seconds, first failure to next success, summed */
    int alert;   /* the alert it saw most, -1 none */
};

/* The figures of one run. */
struct demo_figures {
    struct demo_client_figures client[DEMO_CLIENTS_MAX + 2]; /* + the open sessions */
    int nclients_seen;      /* clients with records: 1 + the highest id */
    long sessions;          /* handshakes tried (new sessions and open-session connects) */
    long failed_handshakes; /* of those */
    long open_requests;     /* requests on open sessions */
    long open_failed;
    long alerts[DEMO_ALERTS];
    double downtime_total; /* seconds, summed over clients: first failure to next success */
    double downtime_worst; /* the client with the most */
    int worst_client;
    /* Time the last client held each successor, relative to when the
     * clients first saw the server present it; the worst over renewals. */
    enum { DEMO_CONVERGE_NONE = 0, DEMO_CONVERGE_KNOWN, DEMO_CONVERGE_NEVER } converge_state;
    double converge;
    double sa_bytes_per_handshake; /* over completed handshakes */
    int renewals;                  /* new certificates the clients saw presented */
    double swaps[16];              /* when each was first presented, seconds */
    int nswaps;
    /* Median time of each step from the TCP connect, ms; -1: no such session. */
    double step_ok[DEMO_STEPS], step_failed[DEMO_STEPS];
};

/*
 * Compute a run's figures from its records: clients are 0..nclients-1,
 * end is when the run stopped (a failure streak still open then counts
 * until end). Pure; sorts s and h in place. 0, or EVC_ERR_NOMEM.
 */
int demo_figures_compute(struct demo_session *s, size_t n, struct demo_hold *h, size_t nh,
                         int nclients, double end, struct demo_figures *f);

#define DEMO_APPROVALS 16

/* One client's kind, and what its agent decided (the evercert run), from the agent's state. */
struct demo_agent_figures {
    int tls12; /* the client offers TLS 1.2 at most: no SA in its handshakes */
    int late;  /* --manual: its person approves after activate_at */
    long accepted, by_handshake, by_push; /* SAs the agent wrote, and how they came */
    long queued, approved, rejected, activated;
    long approvals_run, approvals_failed; /* `evercert approve` processes, and those that failed */
    double approved_at[DEMO_APPROVALS];   /* when each approval started, seconds */
    int napproved;
    char reason[224]; /* the last rejection */
};

/* The figures of a group of clients: the TLS 1.2 ones, those whose person approved late. */
struct demo_group {
    int clients;
    long tries, failed;
    double down_total, down_worst;
};

/*
 * Sum the per-client figures of clients 0..n-1 whose kind matches:
 * tls12 and late are 0 or 1, or -1 for either. Pure.
 */
void demo_group_sum(const struct demo_figures *f, const struct demo_agent_figures *kind, int n,
                    int tls12, int late, struct demo_group *out);

/* RFC 8446 name of a TLS AlertDescription ("unknown_ca"); "alert_N" for others. */
const char *demo_alert_name(int alert, char *buf, size_t len);

struct demo_settings {
    int lifetime;         /* seconds a certificate lives */
    int manual;           /* the evercert run's agents under policy = manual */
    double approve_early; /* seconds from an SA queued to its approval, before activate_at */
    double approve_late;  /* the same for the late half of the clients, after activate_at */
    int clients;          /* clients making new sessions */
    int open_sessions;    /* sessions that stay open throughout */
    int manual_fix;       /* seconds from the swap to the person's fix (existing) */
    int interval_ms;      /* between a client's sessions */
    int rotations;        /* the evercert run goes through at least this many */
    const char *out_dir;
    const char *self; /* the evercert binary, for `serve`, `monitor` and `approve` */
};

/* Run-time state of one run. */
struct demo_run {
    const char *name; /* "existing", "evercert" or "evercert-ready" */
    const struct demo_settings *set;
    char dir[4096]; /* its files, under the temporary directory */
    char cert[4200], key[4200], sa[4200], config[4200];
    int port, announce_port;
    int ready;       /* the monitor waits for the clients: activate = ready */
    int status_port; /* serve's status listener, which that monitor asks */
    int server_pid;
    int monitor_pid;
    char monitor_log[4300];
    int agents; /* each client has its own agent (the evercert run) */
    struct demo_log log;
    int replacements;       /* swaps the run's own machinery made (the monitor's log says them) */
    long monitor_passes;    /* passes the monitor process recorded, by its own clock */
    long monitor_triggered; /* of those, asked for (--trigger, --once): none should be */
    long monitor_swaps;     /* activations in the monitor's history */
    struct demo_agent_figures agent[DEMO_CLIENTS_MAX + 2];
    struct demo_figures fig;
};

/* Child processes. Start argv[0] (searched on PATH when search_path) with stdin from
 * /dev/null and stdout and stderr into log (0600); 0 or an errno. */
int demo_spawn(char *const argv[], int search_path, const char *log, pid_t *pid);
/* Wait until log holds text: 0; 1 if the process ended first (it is reaped); -1 after seconds. */
int demo_wait_ready(pid_t pid, const char *log, const char *text, int seconds);
/* Run argv to its end within seconds, output into log: its exit status, or -1. */
int demo_run_cmd(char *const argv[], const char *log, int seconds);
/* Reap pid within seconds, else SIGKILL it: its exit status, or -1. */
int demo_wait_bounded(pid_t pid, int seconds);

/* What a packet capture showed for one run (its server's port). */
struct demo_wire {
    long packets;
    long syn; /* connections opened: SYN without ACK */
    long fin;
    long rst;
    long alerts[DEMO_ALERTS]; /* TLS alerts seen in clear */
};

/* tshark on the loopback interface, when it is installed and may capture. */
struct demo_capture {
    int pid;
    int running;
    char file[4200]; /* capture.pcapng in the output directory */
    char log[4200];
    char why[256]; /* why there is no capture */
};

/* Start capturing the runs' ports; c->running says whether it did, c->why why not. */
void demo_capture_start(struct demo_capture *c, const char *out_dir, const char *tmp,
                        const int *ports, int nports);
void demo_capture_stop(struct demo_capture *c);
/* Summarise the capture per run (out[i] for ports[i]) with tshark -r; 0, or -1 with c->why. */
int demo_capture_summarise(struct demo_capture *c, const char *tmp, const int *ports, int nports,
                           struct demo_wire *out);
/*
 * Count tshark's "-T fields" lines (srcport,dstport,syn,ack,fin,reset,
 * alert descriptions) per server port. Pure; lines that are not of that
 * shape are skipped.
 */
int demo_wire_parse(const char *text, size_t len, const int *ports, int nports,
                    struct demo_wire *out);

/* existing, evercert, and with --manual evercert-ready (activate = ready) */
#define DEMO_RUNS_MAX 3

struct demo_result {
    struct demo_run runs[DEMO_RUNS_MAX];
    int nruns;
    struct demo_capture capture;
    int wire_ok; /* wire holds the capture's summary */
    struct demo_wire wire[DEMO_RUNS_MAX];
    double duration;
    char tmp[4096];
};

/* Progress, once a second: elapsed and planned seconds. */
typedef void (*demo_progress_fn)(const struct demo_result *r, double elapsed, double planned,
                                 void *arg);

/* Set from a signal handler: demo_run stops, cleans up and fails with "interrupted". */
extern volatile sig_atomic_t demo_interrupted;

/*
 * Set up, run both runs until both are done, compute the figures. The
 * temporary directory (keys) is removed before returning. err names what
 * failed.
 */
int demo_run(const struct demo_settings *s, struct demo_result *r, demo_progress_fn progress,
             void *arg, struct evc_err *err);
void demo_result_free(struct demo_result *r);

/*
 * The clients of one run: threads that record into run->log until stopped.
 * Client i's trust store is clients_dir/client-NN/trust.pem; with
 * run->agents its agent's configuration is agent.ini beside it.
 */
struct demo_clients;
int demo_clients_start(struct demo_run *run, const char *clients_dir, double t0,
                       struct demo_clients **out, struct evc_err *err);
void demo_clients_stop(struct demo_clients *c);

/* Seconds on the monotonic clock. */
double demo_now(void);

/* Output: the raw records, the charts (with gnuplot when installed), the table, JSON. */
int demo_write_data(const struct demo_result *r, const char *dir, struct evc_err *err);
/* 0 and *drawn = 1 when gnuplot drew the PNGs; *drawn = 0 with why when it is not installed. */
int demo_draw_charts(const struct demo_result *r, const char *dir, int *drawn, char *why,
                     size_t whylen, struct evc_err *err);
char *demo_json(const struct demo_result *r);
void demo_text(const struct demo_result *r, const char *out_dir, int drawn, FILE *f);

#endif
