/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The well-known URL: a plain HTTPS GET with libcurl, to the server's
 * connect address whatever host the URL names (curl's --connect-to), the
 * server verified against the agent's trust and nothing else, the body
 * capped at the SA's size. The leaf the server presented comes back too:
 * the SA must be signed by it (or by the leaf trusted before it).
 *
 * One deadline covers the whole transfer (curl's CURLOPT_TIMEOUT_MS counts
 * from the start: resolve, connect, TLS and every read), so a server that
 * drips its answer cannot stretch it. The transfer runs on curl's multi
 * interface, polling a cancel descriptor beside curl's sockets, so a stop
 * signal ends it at once.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "evercert/keys.h"
#include "agent/agent_int.h"

struct fetch {
    struct evc_buf *body;
    X509_STORE *trust;
    int over;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;

    /* The cap is the SA's, whatever room the buffer has: exactly EVC_SA_MAX bytes are fine. */
    if (size * n > EVC_SA_MAX - f->body->len || evc_buf_put(f->body, p, size * n) != 0) {
        f->over = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    return size * n;
}

/* Only the agent's anchors: the system's are replaced, not added to. */
static CURLcode
on_ctx(CURL *c, void *sslctx, void *arg)
{
    struct fetch *f = arg;

    (void)c;
    SSL_CTX_set1_cert_store(sslctx, f->trust);
    return CURLE_OK;
}

/* The leaf from curl's certificate info ("Cert:" of the first certificate). */
static X509 *
peer_leaf(CURL *c)
{
    struct curl_certinfo *ci = NULL;
    X509 *x = NULL;

    if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
        ci->num_of_certs < 1) {
        return NULL;
    }
    for (struct curl_slist *s = ci->certinfo[0]; s != NULL; s = s->next) {
        if (strncmp(s->data, "Cert:", 5) == 0) {
            if (evc_x509_parse((const uint8_t *)s->data + 5, strlen(s->data + 5), &x, NULL) != 0) {
                x = NULL;
            }
            break;
        }
    }
    return x;
}

/* Run the transfer until done or cancel_fd is readable: *rc gets curl's result. */
static int
perform(CURL *c, int cancel_fd, CURLcode *rc)
{
    struct curl_waitfd wfd = {cancel_fd, CURL_WAIT_POLLIN, 0};
    CURLM *m = curl_multi_init();
    CURLMsg *msg;
    int running = 1, left, cancelled = 0;

    *rc = CURLE_OUT_OF_MEMORY;
    if (m == NULL || curl_multi_add_handle(m, c) != CURLM_OK) {
        curl_multi_cleanup(m);
        return 0;
    }
    *rc = CURLE_RECV_ERROR;
    for (;;) {
        if (curl_multi_perform(m, &running) != CURLM_OK || running == 0) {
            break;
        }
        wfd.revents = 0;
        /* curl wakes up for its own timeouts: the poll needs no deadline of its own. */
        if (curl_multi_poll(m, cancel_fd >= 0 ? &wfd : NULL, cancel_fd >= 0 ? 1 : 0, 1000, NULL) !=
            CURLM_OK) {
            break;
        }
        if ((wfd.revents & CURL_WAIT_POLLIN) != 0) {
            cancelled = 1;
            break;
        }
    }
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == c) {
            *rc = msg->data.result;
        }
    }
    curl_multi_remove_handle(m, c);
    curl_multi_cleanup(m);
    return cancelled;
}

int
evc_agent_fetch(const char *url, const char *connect, X509_STORE *trust, long timeout_ms,
                int cancel_fd, struct evc_buf *body, X509 **leaf, struct evc_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "", map[300];
    struct curl_slist *to = NULL;
    struct fetch f = {body, trust, 0};
    long code = 0;
    CURLcode rc;
    CURL *c;
    int r = 0;

    *leaf = NULL;
    evc_buf_reset(body);
    snprintf(map, sizeof(map), "::%s", connect);
    if ((c = curl_easy_init()) == NULL || (to = curl_slist_append(NULL, map)) == NULL) {
        curl_easy_cleanup(c);
        return evc_err_set(err, EVC_ERR_NOMEM, "out of memory");
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_CONNECT_TO, to);
    curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ctx);
    curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, &f);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
    /* A Content-Length over the cap is refused before the body; one of exactly EVC_SA_MAX is not.
     */
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)EVC_SA_MAX);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "evercert-agent");
    if (perform(c, cancel_fd, &rc)) {
        r = evc_err_set(err, EVC_ERR_IO, "%s (at %s): abandoned: asked to stop", url, connect);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        if (f.over || rc == CURLE_FILESIZE_EXCEEDED) {
            r = evc_err_set(err, EVC_ERR_LIMIT,
                            "%s (at %s): the body is over the SA's cap of %zu bytes", url, connect,
                            EVC_SA_MAX);
        } else {
            r = evc_err_set(err, rc == CURLE_PEER_FAILED_VERIFICATION ? EVC_ERR_POLICY : EVC_ERR_IO,
                            "%s (at %s): %s", url, connect,
                            errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        }
    } else if (code == 404) {
        evc_buf_reset(body); /* nothing published: no SA, no error */
    } else if (code != 200) {
        r = evc_err_set(err, EVC_ERR_IO, "%s (at %s): HTTP status %ld", url, connect, code);
    } else if ((*leaf = peer_leaf(c)) == NULL) {
        r = evc_err_set(err, EVC_ERR_IO, "%s (at %s): no server certificate seen", url, connect);
    }
    if (r == 0 && code == 404 && (*leaf = peer_leaf(c)) == NULL) {
        r = evc_err_set(err, EVC_ERR_IO, "%s (at %s): no server certificate seen", url, connect);
    }
out:
    curl_slist_free_all(to);
    curl_easy_cleanup(c);
    ERR_clear_error();
    return r;
}
