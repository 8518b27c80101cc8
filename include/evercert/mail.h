/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monitor's e-mail, through libcurl's SMTP (STARTTLS when offered).
 * Addresses are written as WebSphere's monitor takes them: several
 * separated by "|", and "user@domain@smtpserver" to name the server;
 * without one, the server is smtp.<domain>.
 */
#ifndef EVERCERT_MAIL_H
#define EVERCERT_MAIL_H

#include <stddef.h>

#include "evercert/error.h"
#include "evercert/time.h"

#define EVC_MAIL_RCPT_MAX 32
#define EVC_MAIL_ADDR_MAX 254

struct evc_mail_addrs {
    char rcpt[EVC_MAIL_RCPT_MAX][EVC_MAIL_ADDR_MAX + 1];
    size_t n;
    char server[EVC_MAIL_ADDR_MAX + 1]; /* host or host:port */
};

/* Parse spec into out. Pure. EVC_ERR_USAGE naming the bad address. */
EVC_EXPORT EVC_MUST_USE int evc_mail_parse_addrs(const char *spec, struct evc_mail_addrs *out,
                                                 struct evc_err *err);

struct evc_mail {
    const char *to; /* the spec above */
    const char *from;
    const char *url;  /* smtp://host:port or smtps://...; NULL: from the addresses */
    const char *user; /* NULL: no login */
    const char *password;
    const char *subject;
    const char *body; /* plain text, LF line ends */
    evc_time now;     /* the Date: header */
    long timeout;     /* seconds for the whole exchange */
};

/* Send it. Errors name the server and libcurl's reason. */
EVC_EXPORT EVC_MUST_USE int evc_mail_send(const struct evc_mail *m, struct evc_err *err);

#endif
