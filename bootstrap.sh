#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Set up a fresh Debian 12 machine, build, and then either run the main job
# or pass every test.
#
#   ./bootstrap.sh run    install what is missing, build, and run `evercert demo`:
#                         certificate expiry the old way and with evercert, on 127.0.0.1
#   ./bootstrap.sh test   install what is missing, build, run all tests, then again
#                         under AddressSanitizer and UndefinedBehaviorSanitizer, then
#                         every fuzz target for 20 s (scripts/fuzz.sh)
#
# Installing needs root (apt-get); with everything present it does not.
set -eu
cd "$(dirname "$0")"
mode=${1:-}
case $mode in run | test) ;; *) echo "usage: $0 run|test" >&2; exit 2 ;; esac

PACKAGES="build-essential cmake ninja-build pkg-config openssl libssl-dev
libsqlite3-dev libcurl4-openssl-dev libevent-dev libsystemd-dev libcmocka-dev libjansson-dev jq coreutils util-linux tzdata
clang-format gnuplot-nox tshark"
# NSS trust stores (cert9.db, Firefox and Chromium) are written through NSS itself.
PACKAGES="$PACKAGES libnss3-dev"
# The tests also need real peers: nginx and curl, a mail sink (Python 3.11's smtpd),
# and Java's keytool for PKCS#12; clang and its libFuzzer runtime for the fuzz targets.
if [ "$mode" = test ]; then
    PACKAGES="$PACKAGES nginx-light curl python3 clang libclang-rt-14-dev"
    # NSS databases judged by certutil (nss.sh); headless Chromium and Firefox ESR (browsers.sh).
    PACKAGES="$PACKAGES libnss3-tools chromium firefox-esr"
    # Packaging: dpkg-buildflags' build, the system trust store, the bash completion.
    PACKAGES="$PACKAGES dpkg-dev p11-kit ca-certificates bash-completion"
    # Java keystores and Tomcat: keytool, javac for the tests' Java client, tomcat10 as a real peer.
    PACKAGES="$PACKAGES default-jdk-headless tomcat10"
    PACKAGES="$PACKAGES apache2 gnutls-bin" # Apache httpd beside nginx; GnuTLS's client (apache.sh, gnutls.sh)
fi
missing=
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: missing packages:$missing (run as root to install them)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
# keytool is optional: the PKCS#12 test skips, saying so, where Java cannot be installed.
if [ "$mode" = test ] && ! command -v keytool >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        default-jre-headless || echo "bootstrap: no Java; the keytool checks will be skipped" >&2
fi

# -DEVC_WERROR=ON: a warning fails the project's own builds (a distribution's leaves it off).
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVC_WERROR=ON >/dev/null
cmake --build build

if [ "$mode" = run ]; then
    echo
    echo "\$ evercert demo"
    exec ./build/evercert demo
fi

./scripts/lint.sh
(cd build && ctest --output-on-failure)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEVC_SANITIZE=ON -DEVC_WERROR=ON >/dev/null
cmake --build build-asan
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure)
# The builds distributions make: Release, and Debian's flags from dpkg-buildflags
# (-O2, _FORTIFY_SOURCE, -fstack-protector-strong, -Werror=format-security, relro),
# warning-clean; their unit tests only.
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DEVC_WERROR=ON >/dev/null
cmake --build build-release
(cd build-release && ctest --output-on-failure -R '^unit/')
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
    LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
    cmake -S . -B build-dpkg -G Ninja -DCMAKE_BUILD_TYPE=None -DEVC_WERROR=ON >/dev/null
cmake --build build-dpkg
(cd build-dpkg && ctest --output-on-failure -R '^unit/')
# Each parser of outside bytes under libFuzzer for a bounded time; a finding fails the run.
./scripts/fuzz.sh 20
