/* SPDX-License-Identifier: Apache-2.0 */
/*
 * E-mail address lists ("a@x|b@y@smtp.host", from the configuration):
 * evc_mail_parse_addrs on any text. What it accepts can never inject an
 * SMTP command or a header: no blank, control character, angle bracket,
 * comma or quote, an '@' after the first byte, within the caps.
 */
#include <string.h>

#include "evercert/mail.h"
#include "fuzz.h"

static int
clean(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"') {
            return 0;
        }
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct evc_mail_addrs *a = malloc(sizeof(*a));
    struct evc_err err = {0};
    int r;

    if (s == NULL || a == NULL) {
        goto out;
    }
    if ((r = evc_mail_parse_addrs(s, a, &err)) == 0) {
        fuzz_check(a->n >= 1 && a->n <= EVC_MAIL_RCPT_MAX, "mail", "recipient count");
        for (size_t i = 0; i < a->n; i++) {
            const char *at = strchr(a->rcpt[i], '@');

            fuzz_check(strlen(a->rcpt[i]) <= EVC_MAIL_ADDR_MAX, "mail", "address too long");
            fuzz_check(at != NULL && at != a->rcpt[i] && at[1] != '\0', "mail", "not user@domain");
            fuzz_check(clean(a->rcpt[i]), "mail", "an address holds a forbidden byte");
        }
        fuzz_check(a->server[0] != '\0' && strlen(a->server) <= EVC_MAIL_ADDR_MAX &&
                       clean(a->server),
                   "mail", "bad server");
    } else {
        fuzz_check(err.code == r && err.detail[0] != '\0', "mail", "an error without a reason");
    }
out:
    free(a);
    free(s);
    return 0;
}
