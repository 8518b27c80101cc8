# SPDX-License-Identifier: Apache-2.0
#
# Sourced by every test that listens: ports picked free, not from the PID.

# port_block N: the first of N consecutive loopback ports free now, below the
# kernel's ephemeral range (32768..) so no outgoing connection takes one, at
# a random place so tests that run side by side rarely meet.
port_block() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(500):
    base = random.randrange(20000, 32700 - n)
    held = []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            held.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for s in held:
            s.close()
    print(base)
    sys.exit(0)
sys.exit(1)
PY
}

# free_port: a loopback TCP port the kernel just gave out and took back: far
# less likely to collide with a parallel test than one derived from a PID.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
