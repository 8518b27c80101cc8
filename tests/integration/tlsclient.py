#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A long-lived HTTPS client, as an application keeps one: Python's ssl
module (OpenSSL underneath, no evercert code), one connection kept open
across certificate swaps with a request on it every 0.5 s. It reconnects
only when the server drops the connection, reading its trust store (a PEM
bundle) again for the new handshake, and retries the request once on the
new connection, as HTTP clients do for an idempotent request.

usage: tlsclient.py NAME HOST PORT SERVERNAME CAFILE STOPFILE LOG MAXSECONDS

Each line of LOG: "<epoch> <event> <detail>"; events are connect (with the
SHA-256 of the certificate the server presented), ok, drop (a connection
that had worked ended by the server), FAIL (no answer even on a new
connection: the handshake or the verification failed). It runs until
STOPFILE exists or MAXSECONDS have passed, then prints one summary line
and exits 0; the caller judges the counts.
"""
import hashlib
import os
import socket
import ssl
import sys
import time


def connect(host, port, servername, cafile):
    # A new context per handshake: the trust store is read as it is now.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    raw = socket.create_connection((host, port), timeout=3)
    try:
        conn = ctx.wrap_socket(raw, server_hostname=servername)
    except BaseException:
        raw.close()
        raise
    conn.settimeout(3)
    return conn


def request(conn, servername):
    conn.sendall(("GET /ping HTTP/1.1\r\nHost: %s\r\n\r\n" % servername).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise EOFError("the server closed the connection")
        data += chunk
        if len(data) > 65536:
            raise EOFError("no end of the answer's head")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 200"):
        raise EOFError("answer: %r" % lines[0][:80])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            raise EOFError("the server closed the connection mid-answer")
        body += chunk
    return body[:length]


def main():
    if len(sys.argv) != 9:
        sys.stderr.write(__doc__)
        return 2
    name, host, port, servername, cafile, stopfile, logfile = sys.argv[1:8]
    port = int(port)
    end = time.monotonic() + float(sys.argv[8])
    n = {"ok": 0, "connect": 0, "drop": 0, "FAIL": 0}
    conn = None
    with open(logfile, "a", buffering=1) as log:

        def note(event, detail=""):
            n[event] += 1
            log.write("%.3f %s %s\n" % (time.time(), event, detail))

        while not os.path.exists(stopfile) and time.monotonic() < end:
            for attempt in (0, 1):
                if conn is None:
                    try:
                        conn = connect(host, port, servername, cafile)
                    except (OSError, ssl.SSLError) as e:
                        note("FAIL", "connect: %s" % e)
                        break
                    der = conn.getpeercert(binary_form=True)
                    note("connect", hashlib.sha256(der).hexdigest())
                try:
                    request(conn, servername)
                    note("ok")
                    break
                except (OSError, ssl.SSLError, EOFError, ValueError) as e:
                    conn.close()
                    conn = None
                    if attempt == 0:
                        note("drop", str(e))
                    else:
                        note("FAIL", "request on a new connection: %s" % e)
            time.sleep(0.5)
        if conn is not None:
            conn.close()
    print(
        "python %s: %d requests answered, %d connection%s, %d dropped by the server, %d failed"
        % (name, n["ok"], n["connect"], "" if n["connect"] == 1 else "s", n["drop"], n["FAIL"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
