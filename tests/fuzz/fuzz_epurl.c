/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint URLs as a command line or an [endpoint] section gives them:
 * evc_ep_url_parse either refuses with a reason or gives a URL whose text
 * form parses back to the same URL (so a report names what was scanned),
 * with a host and an SNI name that fit and a port that is not 0.
 */
#include <string.h>

#include "evercert/endpoint.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evc_ep_url u, v;
    struct evc_err err = {0};
    char *s = fuzz_cstr(data, size), text[EVC_EP_URL_MAX + 16];

    if (s == NULL) {
        return 0;
    }
    if (evc_ep_url_parse(s, &u, &err) != 0) {
        fuzz_check(err.code == EVC_ERR_PARSE && err.detail[0] != '\0', "epurl",
                   "a refusal without its reason");
        goto out;
    }
    fuzz_check(evc_ep_is_url(s), "epurl", "parsed what is not a URL");
    fuzz_check(u.port != 0 && u.host[0] != '\0', "epurl", "no port or no host");
    fuzz_check(strlen(u.host) <= EVC_EP_HOST_MAX && strlen(u.sni) <= EVC_EP_HOST_MAX, "epurl",
               "a name over the cap");
    fuzz_check(u.numeric || strcmp(u.sni, u.host) == 0 || u.sni[0] != '\0', "epurl",
               "a name without SNI");
    evc_ep_url_format(&u, text, sizeof(text));
    fuzz_check(evc_ep_url_parse(text, &v, &err) == 0, "epurl", "its text form does not parse");
    fuzz_check(u.proto == v.proto && u.port == v.port && u.numeric == v.numeric &&
                   strcmp(u.host, v.host) == 0 && strcmp(u.sni, v.sni) == 0,
               "epurl", "its text form parses to another URL");
out:
    free(s);
    return 0;
}
