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
#                         every fuzz target for 5 s (scripts/fuzz.sh)
#
# Installing needs root (apt-get); with everything present it does not.
set -eu
cd "$(dirname "$0")"
mode=${1:-}
case $mode in run | test) ;; *) echo "usage: $0 run|test" >&2; exit 2 ;; esac

PACKAGES="build-essential cmake ninja-build pkg-config openssl libssl-dev
libsqlite3-dev libpq-dev libcurl4-openssl-dev libevent-dev libsystemd-dev libcmocka-dev libjansson-dev jq coreutils util-linux tzdata
clang-format gnuplot-nox tshark"
# NSS trust stores (cert9.db, Firefox and Chromium) are written through NSS itself.
PACKAGES="$PACKAGES libnss3-dev"
# The tests also need nginx and curl, a mail sink (Python 3.11's smtpd), clang and its
# libFuzzer runtime for the fuzz targets, and dpkg-buildflags for Debian's build.
if [ "$mode" = test ]; then
    PACKAGES="$PACKAGES nginx-light curl python3 clang libclang-rt-14-dev dpkg-dev"
fi
# The peers the tests meet, each optional: a package that cannot be installed makes its
# tests skip, saying what is missing, and the rest still run.
#   libnss3-tools chromium firefox-esr    NSS databases by certutil; the browsers (nss.sh, browsers.sh)
#   default-jdk-headless tomcat10         keytool, javac for the Java client, Tomcat (jks.sh, tomcat.sh)
#   apache2 gnutls-bin                    Apache httpd beside nginx; GnuTLS's client (apache.sh, gnutls.sh)
#   p11-kit ca-certificates bash-completion   the system trust store; the completion (sysstore.sh, install.sh)
#   postgresql                            the fleet database, started by the tests in a temporary directory
PEERS="libnss3-tools chromium firefox-esr default-jdk-headless tomcat10 apache2 gnutls-bin
p11-kit ca-certificates bash-completion postgresql"
[ "$mode" = test ] || PEERS=
missing() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}
# shellcheck disable=SC2086
need=$(missing $PACKAGES | tr '\n' ' ')
# shellcheck disable=SC2086
want=$(missing $PEERS | tr '\n' ' ')
if [ -n "$need$want" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: missing packages: $need$want(run as root to install them)" >&2
        [ -n "$need" ] && exit 1
    else
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        # shellcheck disable=SC2086
        [ -z "$need" ] || apt-get install -y -q --no-install-recommends $need
        # shellcheck disable=SC2086
        if [ -n "$want" ] && ! apt-get install -y -q --no-install-recommends $want; then
            for p in $want; do
                apt-get install -y -q --no-install-recommends "$p" ||
                    echo "bootstrap: $p could not be installed; the tests that need it will skip, saying so" >&2
            done
        fi
    fi
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
# Two at a time: most tests wait on short-lived certificates, not on the CPU; the demo, the
# soak and the browsers, which measure or load the machine, run alone (RUN_SERIAL).
(cd build && ctest -j2 --output-on-failure)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEVC_SANITIZE=ON -DEVC_WERROR=ON >/dev/null
cmake --build build-asan
# Under the sanitizers every test but those whose subject is another program (label peer:
# the browsers, Tomcat, Apache httpd), which the run above has passed.
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest -j2 -LE peer --output-on-failure)
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
./scripts/fuzz.sh 5
