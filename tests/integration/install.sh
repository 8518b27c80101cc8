#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# What `cmake --install` puts on a machine, installed into a DESTDIR: the
# command (-V), the libraries and headers (a program built with pkg-config
# against them runs), the man pages, the systemd units and timers (checked
# by systemd-analyze verify where it is installed), and the bash completion
# (it offers every command and every option the help pages document).
#
# usage: install.sh BUILD-DIR SOURCE-DIR
set -u
B=$(cd "$1" && pwd)
S=$(cd "$2" && pwd)
T=$(mktemp -d /tmp/evc-install-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$S/tests/integration/lib.sh"
D=$T/root
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$B/CMakeCache.txt")
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$B/CMakeCache.txt")
unitdir=$(sed -n 's/^EVC_SYSTEMD_UNIT_DIR:STRING=//p' "$B/CMakeCache.txt")
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$B/CMakeCache.txt")
case $unitdir in /*) ;; *) unitdir=$prefix/$unitdir ;; esac
P=$D$prefix

if ! DESTDIR=$D cmake --install "$B" >"$T/install.log" 2>&1; then
    cat "$T/install.log" >&2
    echo "FAIL: cmake --install" >&2
    exit 1
fi

# The command, and its version as the project declares it.
EVC=$P/bin/evercert
status "-V exits 0" 0 "$EVC" -V
check "-V says evercert $version" grep -qx "evercert $version" "$T/out"
status "--version exits 0" 0 "$EVC" --version
check "--version says evercert $version" grep -qx "evercert $version" "$T/out"
check "the installed command runs a command" sh -c "'$EVC' help scan | grep -q '^SYNOPSIS'"

# Libraries and headers.
check "the shared library" test -f "$P/$libdir/libevercert.so.$version"
check "the shared library's link name" test -L "$P/$libdir/libevercert.so"
check "the static library" test -f "$P/$libdir/libevercert.a"
for h in "$S"/include/evercert/*.h; do
    check "header $(basename "$h")" cmp -s "$h" "$P/include/evercert/$(basename "$h")"
done

# A program built against the installed tree with pkg-config alone.
if command -v pkg-config >/dev/null; then
    PC="env PKG_CONFIG_PATH=$P/$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D pkg-config"
    check "pkg-config knows evercert $version" sh -c "[ \"\$($PC --modversion evercert)\" = '$version' ]"
    # A static link needs every library the static libevercert calls, NSS among them.
    check "pkg-config --static --libs names nss" sh -c "$PC --static --libs evercert | grep -qw -- -lnss3"
    flags=$($PC --cflags --libs evercert)
    # A sanitizer build's library needs its runtime in the program too.
    if grep -q '^EVC_SANITIZE:BOOL=ON' "$B/CMakeCache.txt"; then
        flags="$flags -fsanitize=address,undefined"
    fi
    # shellcheck disable=SC2086
    if cc -o "$T/client" "$S/examples/client.c" $flags 2>"$T/cc.err"; then
        ok
        # Its usage line proves it loaded the installed libevercert.
        # (Its usage exit leaves its SSL_CTX to the process's end: no leak report for that.)
        status "the example client runs on the installed library" 2 env LD_LIBRARY_PATH="$P/$libdir" \
            ASAN_OPTIONS=detect_leaks=0 "$T/client"
        check "... and says its usage" grep -q '^usage: ' "$T/err"
        check "... linked to the installed library" sh -c \
            "LD_LIBRARY_PATH='$P/$libdir' ldd '$T/client' | grep -q '$P/$libdir/libevercert.so'"
    else
        bad "examples/client.c does not build with pkg-config --cflags --libs evercert"
        cat "$T/cc.err" >&2
    fi
    # The server example calls libevent itself: serve.h's API takes an event_base.
    # shellcheck disable=SC2086
    check "examples/server.c builds with pkg-config --cflags --libs evercert" \
        cc -o "$T/server" "$S/examples/server.c" $flags
else
    echo "SKIP: pkg-config is not installed; the pkg-config checks did not run"
fi

# Man pages: one per command, the command's own, and the configuration file's.
check "evercert(1)" test -s "$P/share/man/man1/evercert.1"
check "evercert.conf(5)" test -s "$P/share/man/man5/evercert.conf.5"
# "    ca init" names ca; "    agent, pending, approve, reject" names four.
cmds=$("$EVC" --help | awk '/^COMMANDS/{c=1; next} /^[A-Z]/{c=0}
    c && /^    [a-z]/{if ($1 ~ /,$/) {for (i = 1; i <= NF; i++) {sub(",", "", $i); print $i}} else print $1}' | sort -u)
[ -n "$cmds" ] || bad "evercert --help lists no commands"
for c in $cmds; do
    [ "$c" = help ] && continue
    check "man page of $c" test -s "$P/share/man/man1/evercert-$c.1"
done

# systemd units: the services, and the timers with what they start.
U=$D$unitdir
for u in evercert.service evercert-agent.service evercert-renew.service evercert-renew.timer \
    evercert-agent-once.service evercert-agent-once.timer; do
    check "unit $u" test -s "$U/$u"
done
for u in "$U"/*.service; do
    check "$(basename "$u") starts the installed command" grep -q "^ExecStart=$prefix/bin/evercert " "$u"
done
check "evercert-renew runs renew" grep -q '^ExecStart=.* renew --config ' "$U/evercert-renew.service"
check "evercert-agent-once runs agent --once" grep -q '^ExecStart=.* agent --config .* --once$' "$U/evercert-agent-once.service"
check "evercert-renew.timer is daily" grep -qx 'OnCalendar=daily' "$U/evercert-renew.timer"
for t in evercert-renew.timer evercert-agent-once.timer; do
    check "$t has a randomized delay" grep -q '^RandomizedDelaySec=' "$U/$t"
    check "$t is persistent" grep -qx 'Persistent=true' "$U/$t"
done
if command -v systemd-analyze >/dev/null; then
    # verify checks that ExecStart exists: point the copies at the DESTDIR's binary.
    mkdir "$T/units"
    for u in "$U"/*; do
        sed "s#$prefix/bin/evercert#$EVC#" "$u" >"$T/units/$(basename "$u")"
    done
    if systemd-analyze verify --man=no "$T"/units/* >"$T/verify" 2>&1 && ! [ -s "$T/verify" ]; then
        ok
    else
        bad "systemd-analyze verify"
        cat "$T/verify" >&2
    fi
    # The check above can fail: a unit with a mistake is reported.
    printf '[Timer]\nOnCalender=daily\n' >"$T/units/broken.timer"
    if systemd-analyze verify --man=no "$T/units/broken.timer" >"$T/verify" 2>&1 && ! [ -s "$T/verify" ]; then
        bad "systemd-analyze verify passes a misspelt key"
    else
        ok
    fi
else
    echo "SKIP: systemd-analyze is not installed; the units were not verified"
fi

# bash completion: the commands, and each command's options from its help page.
BC=$P/share/bash-completion/completions/evercert
check "the bash completion" test -s "$BC"
if command -v bash >/dev/null; then
    # complete WORDS...: what completing the last word offers, one a line
    complete_words() {
        bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _evercert; [ ${#COMPREPLY[@]} = 0 ] || printf "%s\n" "${COMPREPLY[@]}"' \
            sh "$BC" "$@"
    }
    check "complete -p names _evercert" bash -c ". '$BC'; complete -p evercert | grep -q -- '-F _evercert evercert'"
    complete_words evercert "" >"$T/cmds"
    for c in $cmds; do
        check "completion offers the command $c" grep -qx "$c" "$T/cmds"
    done
    check "completion offers -V" grep -qx -- -V "$T/cmds"
    # one WANT WORDS...: completing the last word offers exactly WANT
    one() {
        want=$1
        shift
        got=$(complete_words "$@" | tr '\n' ' ')
        if [ "$got" = "$want" ]; then ok; else bad "completing '$*' offers '$got', want '$want'"; fi
    }
    one "scan " evercert sc
    one "init " evercert ca ""
    one "--threshold " evercert scan --thr
    one "" evercert scan --bogus
    one "probe " evercert help pro
    for c in $cmds; do
        [ "$c" = help ] && continue
        complete_words evercert "$c" ARG - >"$T/opts" 2>/dev/null || true
        # Every option of the OPTIONS section of the command's help text.
        "$EVC" help "$c" | awk '/^OPTIONS/{o=1; next} /^[A-Z]/{o=0} o && /^    -/' |
            tr ',[]|' '    ' | grep -oE '(^| )--?[A-Za-z0-9][-A-Za-z0-9]*' | tr -d ' ' | sort -u >"$T/doc"
        while read -r o; do
            check "completion of evercert $c offers $o" grep -qx -- "$o" "$T/opts"
        done <"$T/doc"
        check "completion of evercert $c offers no option its help page lacks" sh -c \
            "'$EVC' help '$c' | tr ',[]|' '    ' | grep -oE '(^| )--?[A-Za-z0-9][-A-Za-z0-9]*' | tr -d ' ' | sort -u >'$T/all'; grep -vxF -f '$T/all' '$T/opts' | grep -q . && exit 1; exit 0"
    done
else
    echo "SKIP: bash is not installed; the completion was not tried"
fi

summary install
