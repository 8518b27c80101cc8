/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a configuration hands to the layers below it: ca never sees the
 * file, only the policy, the stores and the file a writing run locks.
 */
#include "evercert/config.h"
#include "evercert/renew.h"

void
evc_config_renew_opts(const struct evc_config *c, struct evc_renew_opts *o)
{
    o->policy = &c->policy;
    o->stores = c->stores;
    o->nstores = c->nstores;
    o->lock = c->file;
}
