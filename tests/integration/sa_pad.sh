# SPDX-License-Identifier: Apache-2.0
#
# Sourced by the integration tests: SAs of an exact size, for checks at a
# cap's two sides. The successor is padded with subjectAltNames to come
# near the size, then the length of the service name (1 to 253 bytes)
# makes it exact. RSA signers (signatures of a fixed length), one
# successor per size and a fixed --at make the size depend on the content
# alone. Needs $EVC and a root store in ./root; writes pad-* files here.
#
#   pad_setup                    keys, once
#   pad_find SIZE                sets PAD_CERT and PAD_LEN (0 if not found)
#   pad_sa OUT CERT NAME-LENGTH  the SA (announce's exit status)

pad_name() { # LENGTH: a host name of labels of 31 letters
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "%s", (i % 32 == 31 && i + 1 < n) ? "." : "a" }'
}
pad_sans() { # N
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "%sDNS:p%05d.web.test", i ? "," : "", i }'
}
pad_size() { stat -c %s "$1"; }
pad_sa() { # OUT SUCCESSOR NAME-LENGTH
    "$EVC" announce --current pad-cur.crt --current-key pad-cur.key --successor "$2" \
        --successor-key pad-succ.key --service "$(pad_name "$3")" --generation 9 \
        --at 2027-01-01T00:00:00Z --activate-at 2027-01-02T00:00:00Z --out "$1"
}
pad_cert() { # OUT N: a successor for pad-succ.key with N subjectAltNames
    printf '[x]\nsubjectAltName = %s\nextendedKeyUsage = serverAuth\n' "$(pad_sans "$2")" >pad-ext.cnf
    openssl x509 -req -in pad-succ.csr -CA root/ca.crt -CAkey root/ca.key -set_serial 7 -days 30 \
        -extfile pad-ext.cnf -extensions x -out "$1" 2>/dev/null
}
pad_setup() {
    "$EVC" issue --ca root --cn web.test --san DNS:web.test --key rsa:2048 --days 30 \
        --out-cert pad-cur.crt --out-key pad-cur.key >/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pad-succ.key 2>/dev/null
    openssl req -new -key pad-succ.key -subj /CN=web.test -out pad-succ.csr 2>/dev/null
    pad_cert pad-1.crt 1 && pad_sa pad-1.sa pad-1.crt 128 2>/dev/null
    pad_cert pad-101.crt 101 && pad_sa pad-101.sa pad-101.crt 128 2>/dev/null
    # About the same per name (the successor is in the SA twice: as such and as a signer).
    PAD_BASE=$(pad_size pad-1.sa)
    PAD_PER=$(( ($(pad_size pad-101.sa) - PAD_BASE) / 100 ))
}
pad_find() { # SIZE
    PAD_CERT=pad-$1.crt
    PAD_LEN=0
    _n=$(( ($1 - 60 - PAD_BASE) / PAD_PER + 1 ))
    for _try in 1 2 3 4 5 6; do
        pad_cert "$PAD_CERT" "$_n"
        rm -f pad-try.sa
        # Over the 64 KiB cap, announce names the size it would have been.
        _got=$(pad_sa pad-try.sa "$PAD_CERT" 128 2>&1 | sed -n 's/.*the SA would be \([0-9]*\) bytes.*/\1/p')
        [ -e pad-try.sa ] && _got=$(pad_size pad-try.sa)
        _len=$((128 + $1 - _got))
        if [ "$_len" -ge 1 ] && [ "$_len" -le 253 ]; then
            PAD_LEN=$_len
            return 0
        fi
        _n=$((_n + ($1 - 60 - _got) / PAD_PER))
    done
    return 1
}
