/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The texts of readiness: the status text of GET /status and its reader,
 * the Prometheus metrics, the query of the well-known URL, and access
 * logs in Common or Combined Log Format. Everything that reads bytes from
 * outside here is pure and linear: it walks its input once.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "evercert/ready.h"
#include "ready/ready_int.h"

/* A decimal uint64 of 1..20 digits, nothing else. 0 or -1. */
static int
u64_parse(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    *out = 0;
    if (n == 0 || n > 20) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned d;

        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* --- the status text -------------------------------------------------------- */

int
evc_ready_status_text(const struct evc_ready_summary *s, struct evc_buf *out)
{
    char at[EVC_TIME_TEXT_MAX], since[EVC_TIME_TEXT_MAX];
    int r;

    evc_time_format(s->at, at);
    evc_time_format(s->since, since);
    if ((r = evc_buf_printf(out,
                            "evercert-status 1\nat %s\nsuccessor %llu\nwindow %lld\nclients %zu\n"
                            "ready %zu\nentries %zu\nforgotten %llu\nsince %s\ncomplete %d\n"
                            "unready_total %zu\n",
                            at, (unsigned long long)s->successor, (long long)s->window, s->clients,
                            s->ready, s->entries, (unsigned long long)s->forgotten, since,
                            s->complete ? 1 : 0, s->unready_total)) != 0) {
        return r;
    }
    for (size_t i = 0; i < s->ngens && i < EVC_READY_GENS_MAX; i++) {
        if ((r = evc_buf_printf(out, "generation %llu %zu\n",
                                (unsigned long long)s->gens[i].generation, s->gens[i].clients)) !=
            0) {
            return r;
        }
    }
    if (s->gens_other > 0 &&
        (r = evc_buf_printf(out, "generation other %zu\n", s->gens_other)) != 0) {
        return r;
    }
    for (size_t i = 0; i < s->nunready && i < EVC_READY_LIST_MAX; i++) {
        const struct evc_ready_client *u = &s->unready[i];

        evc_time_format(u->seen, at);
        if ((r = evc_buf_printf(out, "unready %s %s %llu %s %s\n", u->addr,
                                u->id[0] != '\0' ? u->id : "-", (unsigned long long)u->held, at,
                                evc_ready_source_name(u->src))) != 0) {
            return r;
        }
    }
    return 0;
}

/* Split the next space-separated token of [*p, end). */
static int
token(const char **p, const char *end, const char **t, size_t *tn)
{
    const char *q = *p;

    while (q < end && *q == ' ') {
        q++;
    }
    *t = q;
    while (q < end && *q != ' ') {
        q++;
    }
    *tn = (size_t)(q - *t);
    *p = q;
    return *tn > 0 ? 0 : -1;
}

static int
time_token(const char *t, size_t n, evc_time *out)
{
    char tmp[40];

    if (n == 0 || n >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, t, n);
    tmp[n] = '\0';
    return evc_time_parse(tmp, out) == 0 ? 0 : -1;
}

static int
word_is(const char *t, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(t, w, n) == 0;
}

/* One unready line's values: ADDR ID HELD TIME SOURCE. */
static int
unready_parse(const char *p, const char *end, struct evc_ready_client *u)
{
    const char *t;
    size_t n;
    struct evc_ready_group g;

    memset(u, 0, sizeof(*u));
    if (token(&p, end, &t, &n) != 0) {
        return -1;
    }
    if (n > 3 && memcmp(t + n - 3, "/64", 3) == 0) {
        if (evc_ready_addr_parse(t, n - 3, &g) != 0 || g.family != 6) {
            return -1;
        }
    } else if (evc_ready_addr_parse(t, n, &g) != 0 || g.family != 4) {
        return -1;
    }
    evc_ready_group_text(&g, u->addr);
    if (token(&p, end, &t, &n) != 0) {
        return -1;
    }
    if (!word_is(t, n, "-")) {
        if (!evc_ready_id_ok(t, n)) {
            return -1;
        }
        memcpy(u->id, t, n);
        u->id[n] = '\0';
    }
    if (token(&p, end, &t, &n) != 0 || u64_parse(t, n, &u->held) != 0 ||
        token(&p, end, &t, &n) != 0 || time_token(t, n, &u->seen) != 0 ||
        token(&p, end, &t, &n) != 0) {
        return -1;
    }
    if (word_is(t, n, "hello")) {
        u->src = EVC_READY_HELLO;
    } else if (word_is(t, n, "ack")) {
        u->src = EVC_READY_ACK;
    } else if (word_is(t, n, "url")) {
        u->src = EVC_READY_URL;
    } else {
        return -1;
    }
    return token(&p, end, &t, &n) == 0 ? -1 : 0; /* nothing after */
}

enum {
    HAVE_AT = 1,
    HAVE_SUCC = 2,
    HAVE_WINDOW = 4,
    HAVE_CLIENTS = 8,
    HAVE_READY = 16,
    HAVE_SINCE = 32,
    HAVE_COMPLETE = 64,
    HAVE_ALL = 127
};

int
evc_ready_status_parse(const uint8_t *bytes, size_t n, struct evc_ready_summary *out,
                       struct evc_err *err)
{
    const char *p = (const char *)bytes, *end = p + n;
    unsigned have = 0;
    size_t line = 0;
    const char *why = "malformed";

    memset(out, 0, sizeof(*out));
    if (n > EVC_READY_STATUS_MAX) {
        return evc_err_set(err, EVC_ERR_LIMIT, "status: %zu bytes, over the %zu the reader takes",
                           n, (size_t)EVC_READY_STATUS_MAX);
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le;
        const char *q = p, *k, *t;
        size_t kn, tn, ll = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        uint64_t v = 0;

        line++;
        p = nl != NULL ? nl + 1 : end;
        if (ll > 0 && q[ll - 1] == '\r') {
            ll--;
        }
        le = q + ll;
        if (memchr(q, '\0', ll) != NULL) {
            why = "a NUL byte";
            goto bad;
        }
        if (token(&q, le, &k, &kn) != 0) {
            if (line == 1) {
                why = "expected \"evercert-status 1\"";
                goto bad;
            }
            continue;
        }
        if (line == 1) {
            if (!word_is(k, kn, "evercert-status") || token(&q, le, &t, &tn) != 0 ||
                !word_is(t, tn, "1")) {
                why = "expected \"evercert-status 1\"";
                goto bad;
            }
            continue;
        }
        if (word_is(k, kn, "at")) {
            if (token(&q, le, &t, &tn) != 0 || time_token(t, tn, &out->at) != 0) {
                why = "at: expected an RFC 3339 time";
                goto bad;
            }
            have |= HAVE_AT;
        } else if (word_is(k, kn, "since")) {
            if (token(&q, le, &t, &tn) != 0 || time_token(t, tn, &out->since) != 0) {
                why = "since: expected an RFC 3339 time";
                goto bad;
            }
            have |= HAVE_SINCE;
        } else if (word_is(k, kn, "complete")) {
            /* Only "1" is complete: anything else is a count that may miss a client. */
            if (token(&q, le, &t, &tn) != 0 || (!word_is(t, tn, "0") && !word_is(t, tn, "1"))) {
                why = "complete: expected 0 or 1";
                goto bad;
            }
            out->complete = t[0] == '1';
            have |= HAVE_COMPLETE;
        } else if (word_is(k, kn, "unready_total")) {
            if (token(&q, le, &t, &tn) != 0 || u64_parse(t, tn, &v) != 0 ||
                v > (uint64_t)INT64_MAX) {
                why = "expected a number";
                goto bad;
            }
            out->unready_total = (size_t)v;
        } else if (word_is(k, kn, "successor") || word_is(k, kn, "window") ||
                   word_is(k, kn, "clients") || word_is(k, kn, "ready") ||
                   word_is(k, kn, "entries") || word_is(k, kn, "forgotten")) {
            if (token(&q, le, &t, &tn) != 0 || u64_parse(t, tn, &v) != 0 ||
                (!word_is(k, kn, "successor") && !word_is(k, kn, "forgotten") &&
                 v > (uint64_t)INT64_MAX)) {
                why = "expected a number";
                goto bad;
            }
            switch (k[0]) {
            case 's':
                out->successor = v;
                have |= HAVE_SUCC;
                break;
            case 'w':
                out->window = (int64_t)v;
                have |= HAVE_WINDOW;
                break;
            case 'c':
                out->clients = (size_t)v;
                have |= HAVE_CLIENTS;
                break;
            case 'r':
                out->ready = (size_t)v;
                have |= HAVE_READY;
                break;
            case 'e':
                out->entries = (size_t)v;
                break;
            case 'f':
                out->forgotten = v;
                break;
            default:
                why = "unexpected item";
                goto bad;
            }
        } else if (word_is(k, kn, "generation")) {
            uint64_t g = 0, c = 0;
            int other;

            if (token(&q, le, &t, &tn) != 0) {
                why = "generation: expected a number and a count";
                goto bad;
            }
            other = word_is(t, tn, "other");
            if ((!other && u64_parse(t, tn, &g) != 0) || token(&q, le, &t, &tn) != 0 ||
                u64_parse(t, tn, &c) != 0 || c > (uint64_t)INT64_MAX) {
                why = "generation: expected a number and a count";
                goto bad;
            }
            if (other) {
                out->gens_other = (size_t)c;
            } else if (out->ngens >= EVC_READY_GENS_MAX) {
                why = "too many generation lines";
                goto bad;
            } else {
                out->gens[out->ngens].generation = g;
                out->gens[out->ngens].clients = (size_t)c;
                out->ngens++;
            }
        } else if (word_is(k, kn, "unready")) {
            if (out->nunready >= EVC_READY_LIST_MAX) {
                why = "too many unready lines";
                goto bad;
            }
            if (unready_parse(q, le, &out->unready[out->nunready]) != 0) {
                why = "unready: expected ADDRESS ID GENERATION TIME SOURCE";
                goto bad;
            }
            out->nunready++;
        }
        /* Any other item is for a newer reader. */
    }
    if (line == 0) {
        why = "empty";
        goto bad;
    }
    if ((have & HAVE_ALL) != HAVE_ALL) {
        memset(out, 0, sizeof(*out));
        return evc_err_set(err, EVC_ERR_PARSE,
                           "status: missing at, successor, window, clients, ready, since or "
                           "complete");
    }
    if (out->ready > out->clients) {
        memset(out, 0, sizeof(*out));
        return evc_err_set(err, EVC_ERR_PARSE, "status: more ready than clients");
    }
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return evc_err_set(err, EVC_ERR_PARSE, "status line %zu: %s", line, why);
}

/* --- Prometheus -------------------------------------------------------------- */

int
evc_ready_prometheus(const struct evc_ready_summary *s, struct evc_buf *out)
{
    int r;

    if ((r = evc_buf_puts(out, "# HELP evercert_clients Clients (address groups seen in the "
                               "window) by the generation they hold.\n"
                               "# TYPE evercert_clients gauge\n")) != 0) {
        return r;
    }
    for (size_t i = 0; i < s->ngens && i < EVC_READY_GENS_MAX; i++) {
        if ((r = evc_buf_printf(out, "evercert_clients{generation=\"%llu\"} %zu\n",
                                (unsigned long long)s->gens[i].generation, s->gens[i].clients)) !=
            0) {
            return r;
        }
    }
    if (s->gens_other > 0 &&
        (r = evc_buf_printf(out, "evercert_clients{generation=\"other\"} %zu\n", s->gens_other)) !=
            0) {
        return r;
    }
    return evc_buf_printf(
        out,
        "# HELP evercert_clients_seen Clients seen in the window.\n"
        "# TYPE evercert_clients_seen gauge\nevercert_clients_seen %zu\n"
        "# HELP evercert_clients_ready Clients holding the successor's generation or newer.\n"
        "# TYPE evercert_clients_ready gauge\nevercert_clients_ready %zu\n"
        "# HELP evercert_clients_ready_ratio Ready clients over clients seen (1 when none).\n"
        "# TYPE evercert_clients_ready_ratio gauge\nevercert_clients_ready_ratio %.4f\n"
        "# HELP evercert_successor_generation The generation counted against (0: no SA).\n"
        "# TYPE evercert_successor_generation gauge\nevercert_successor_generation %llu\n"
        "# HELP evercert_clients_forgotten_total Entries forgotten at the cap.\n"
        "# TYPE evercert_clients_forgotten_total counter\nevercert_clients_forgotten_total %llu\n"
        "# HELP evercert_clients_complete 1 when the count covers a whole window, nobody in it "
        "forgotten.\n"
        "# TYPE evercert_clients_complete gauge\nevercert_clients_complete %d\n",
        s->clients, s->ready, s->clients == 0 ? 1.0 : (double)s->ready / (double)s->clients,
        (unsigned long long)s->successor, (unsigned long long)s->forgotten, s->complete ? 1 : 0);
}

/* --- the URL's query ---------------------------------------------------------- */

int
evc_ready_query_parse(const char *q, size_t n, uint64_t *held, char id[EVC_ACK_ID_MAX + 1])
{
    const char *p = q, *end = q + n;
    int have_held = 0, have_id = 0;
    uint64_t h = 0;

    *held = 0;
    id[0] = '\0';
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *ce = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(ce - p));
        const char *name = p, *val = eq != NULL ? eq + 1 : ce;
        size_t nn = (size_t)((eq != NULL ? eq : ce) - p), vn = (size_t)(ce - val);

        p = amp != NULL ? amp + 1 : end;
        if (word_is(name, nn, "held")) {
            if (have_held || eq == NULL || u64_parse(val, vn, &h) != 0) {
                id[0] = '\0';
                return 0;
            }
            have_held = 1;
        } else if (word_is(name, nn, "client")) {
            if (have_id || eq == NULL || !evc_ready_id_ok(val, vn)) {
                id[0] = '\0';
                return 0;
            }
            have_id = 1;
            memcpy(id, val, vn);
            id[vn] = '\0';
        }
    }
    if (!have_held) {
        id[0] = '\0';
        return 0;
    }
    *held = h;
    return 1;
}

/* --- access logs -------------------------------------------------------------- */

static int
month_of(const char *m)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

    for (int i = 0; i < 12; i++) {
        if (memcmp(names + 3 * i, m, 3) == 0) {
            return i + 1;
        }
    }
    return 0;
}

static int
digits(const char *p, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/* "10/Oct/2000:13:55:36 -0700" (26 bytes) into seconds since the epoch. */
static int
clf_time(const char *p, size_t n, evc_time *out)
{
    int d, mo, y, h, mi, s, oh, om;

    if (n != 26 || p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' || p[17] != ':' ||
        p[20] != ' ' || (p[21] != '+' && p[21] != '-') || digits(p, 2, &d) != 0 ||
        (mo = month_of(p + 3)) == 0 || digits(p + 7, 4, &y) != 0 || digits(p + 12, 2, &h) != 0 ||
        digits(p + 15, 2, &mi) != 0 || digits(p + 18, 2, &s) != 0 || digits(p + 22, 2, &oh) != 0 ||
        digits(p + 24, 2, &om) != 0 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || oh > 23 ||
        om > 59) {
        return -1;
    }
    *out =
        evc_time_from_civil(y, mo, d, h, mi, s) - (p[21] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    return 0;
}

/*
 * host ident user [time] "request" status bytes ...: the host, the time
 * and the request target (method and protocol dropped). 0 or -1.
 */
static int
clf_line(const char *p, const char *end, const char **host, size_t *hn, evc_time *t, int *get,
         const char **target, size_t *tn)
{
    const char *x, *tok, *rq;
    size_t n;

    if (token(&p, end, host, hn) != 0 || token(&p, end, &tok, &n) != 0 ||
        token(&p, end, &tok, &n) != 0) {
        return -1;
    }
    while (p < end && *p == ' ') {
        p++;
    }
    if (p >= end || *p != '[' || end - p < 28 || p[27] != ']' || clf_time(p + 1, 26, t) != 0) {
        return -1;
    }
    p += 28;
    if (end - p < 2 || p[0] != ' ' || p[1] != '"') {
        return -1;
    }
    rq = p + 2;
    /* The request ends at the first quote not escaped (Apache writes \", nginx \x22). */
    for (x = rq; x < end && *x != '"'; x++) {
        if (*x == '\\' && x + 1 < end) {
            x++;
        }
    }
    if (x >= end) {
        return -1;
    }
    p = x + 1;
    /* The status: three digits. */
    if (token(&p, end, &tok, &n) != 0 || n != 3 || tok[0] < '1' || tok[0] > '5' || tok[1] < '0' ||
        tok[1] > '9' || tok[2] < '0' || tok[2] > '9') {
        return -1;
    }
    /* method SP target [SP protocol] */
    {
        const char *q = rq;

        *get = 0;
        if (token(&q, x, &tok, &n) != 0 || token(&q, x, target, tn) != 0) {
            *target = rq;
            *tn = 0;
        } else {
            /* Only a GET fetched the SA; a HEAD or a POST to the path said nothing. */
            *get = word_is(tok, n, "GET");
        }
    }
    return 0;
}

int
evc_ready_log_feed(struct evc_ready *r, const uint8_t *bytes, size_t n, size_t *bad_lines)
{
    const char *p = (const char *)bytes, *end = p + n;
    const size_t plen = sizeof(EVC_READY_PATH) - 1;
    int taken = 0;
    size_t bad = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le, *host, *target, *path;
        size_t hn, tn, pn;
        int get = 0;
        evc_time t;
        uint64_t held;
        char id[EVC_ACK_ID_MAX + 1];
        struct evc_ready_group g;

        if (nl == NULL) {
            break; /* its writer may be mid-line */
        }
        le = nl;
        if (le > p && le[-1] == '\r') {
            le--;
        }
        if (le == p) {
            p = nl + 1;
            continue;
        }
        if (clf_line(p, le, &host, &hn, &t, &get, &target, &tn) != 0) {
            bad++;
            p = nl + 1;
            continue;
        }
        p = nl + 1;
        /* The log reaches back to its earliest line, whatever that line asked. */
        if (r != NULL) {
            evc_ready_heard(r, t);
        }
        if (!get) {
            continue;
        }
        /* absolute-form: http://host/path, https://host/path */
        path = target;
        pn = tn;
        if (pn > 8 && (memcmp(path, "http://", 7) == 0 || memcmp(path, "https://", 8) == 0)) {
            const char *sl = memchr(path + 8, '/', pn - 8);

            if (sl == NULL) {
                continue;
            }
            pn -= (size_t)(sl - path);
            path = sl;
        }
        if (pn <= plen || memcmp(path, EVC_READY_PATH, plen) != 0 || path[plen] != '?') {
            continue;
        }
        if (evc_ready_query_parse(path + plen + 1, pn - plen - 1, &held, id) != 1 ||
            evc_ready_addr_parse(host, hn, &g) != 0) {
            continue;
        }
        if (r != NULL) {
            evc_ready_observe_group(r, &g, id, held, EVC_READY_URL, t);
        }
        if (taken < INT_MAX) {
            taken++;
        }
    }
    if (bad_lines != NULL) {
        *bad_lines = bad;
    }
    return taken;
}
