#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A small internal PKI whose root ends in 20 days, a server certificate
# under it, a pinned self-signed one and a client trust bundle; then the
# expiration monitor's plan, the renewal, and the swap when its time comes.
#
# usage: scripts/sample-renew.sh PATH-TO-EVERCERT DIR
set -eu
EVC=$1
D=$2
rm -rf "$D"
mkdir -p "$D/deleted"
cd "$D"
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
"$EVC" ca init --out root --subject "CN=Sample Root,O=evercert" --days 60 --at "$(at '-40 days')" >/dev/null
"$EVC" issue --ca root --cn web.sample --san DNS:web.sample,IP:127.0.0.1 --days 90 \
    --at "$(at '-40 days')" --out-cert web.crt --out-key web.key >/dev/null
"$EVC" selfsign --cn pin.sample --san DNS:pin.sample --days 30 --at "$(at '-25 days')" \
    --out-cert pin.crt --out-key pin.key >/dev/null
cat root/ca.crt pin.crt >clients.pem
cat >renew.ini <<INI
[policy]
expiration_threshold = 60d
distribution_window = 1h

[store "root"]
role = root
path = root

[store "web"]
role = personal
cert = web.crt
key = web.key

[store "pin"]
role = personal
cert = pin.crt
key = pin.key

[store "clients"]
role = trust
path = clients.pem

[store "deleted"]
role = deleted
path = deleted
INI
echo "\$ evercert renew --config $D/renew.ini --dry-run"
"$EVC" renew --config renew.ini --dry-run
echo
echo "\$ evercert renew --config $D/renew.ini"
"$EVC" renew --config renew.ini | sed -n '/action/,$p'
echo
echo "\$ openssl verify -CAfile clients.pem web.crt web.crt.next"
openssl verify -CAfile clients.pem web.crt web.crt.next
echo
echo "\$ evercert activate --config $D/renew.ini --at $(at '+2 hours')"
"$EVC" activate --config renew.ini --at "$(at '+2 hours')" | sed -n '/action/,$p'
echo
echo "\$ openssl verify -CAfile clients.pem web.crt"
openssl verify -CAfile clients.pem web.crt
