#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Make a small set of stores that shows every status and store format:
# an internal root CA, certificates it issued that expire in 20, 100 and
# 400 days, one that has expired and one not yet valid (made with
# `openssl ca`, which can set exact dates), a self-signed server
# certificate, a PKCS#12 keystore, a hashed CA directory and a bundle.
#
# usage: sample-stores.sh DIR      (DIR is replaced)
set -eu
D=${1:?usage: sample-stores.sh DIR}
rm -rf "$D"
mkdir -p "$D/ca/private" "$D/ca/db" "$D/web" "$D/trust" "$D/app"
o() { openssl "$@" 2>/dev/null; }

o req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/ca/private/ca.key" \
    -subj "/O=Example Corp/CN=Example Internal Root CA" -days 5475 -out "$D/ca/ca.crt"
chmod 600 "$D/ca/private/ca.key"
: > "$D/ca/db/index.txt"
cat > "$D/ca/openssl.cnf" <<CNF
[ca]
default_ca = ca
[ca]
dir = $D/ca
database = \$dir/db/index.txt
new_certs_dir = \$dir/db
serial = \$dir/db/serial
certificate = \$dir/ca.crt
private_key = \$dir/private/ca.key
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
o rand -hex 16 > "$D/ca/db/serial"

issue() { # name out [openssl ca date options...]
    name=$1 out=$2; shift 2
    o req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/web/$name.key" \
        -subj "/CN=$name.example.com" -addext "subjectAltName=DNS:$name.example.com" \
        -out "$D/$name.csr"
    chmod 600 "$D/web/$name.key"
    o ca -batch -config "$D/ca/openssl.cnf" -notext -in "$D/$name.csr" -out "$out" "$@"
    rm -f "$D/$name.csr"
}
issue shop "$D/web/shop.crt" -days 20
issue mail "$D/web/mail.crt" -days 100
issue api "$D/web/api.crt" -days 400
issue legacy "$D/web/legacy.crt" -startdate 20240101000000Z -enddate 20250101000000Z
issue next "$D/web/next.crt" -startdate 20351001000000Z -enddate 20361001000000Z

o req -x509 -newkey rsa:2048 -nodes -keyout "$D/app/selfsigned.key" -subj "/CN=intranet.example.com" \
    -addext "basicConstraints=critical,CA:FALSE" -days 2 -out "$D/app/selfsigned.crt"
chmod 600 "$D/app/selfsigned.key"

echo "change it" > "$D/password.txt"
chmod 600 "$D/password.txt"
o pkcs12 -export -in "$D/web/api.crt" -inkey "$D/web/api.key" -certfile "$D/ca/ca.crt" \
    -passout file:"$D/password.txt" -out "$D/app/keystore.p12"

cp "$D/ca/ca.crt" "$D/trust/"
o rehash "$D/trust"
cat "$D/ca/ca.crt" "$D/app/selfsigned.crt" > "$D/trust/bundle.pem"
rm -rf "$D/ca/db"
echo "sample stores in $D"
