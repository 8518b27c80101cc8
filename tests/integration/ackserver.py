#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A push channel that records what the client says on it: Python's ssl
module (no evercert code). Each connection gets the SA (when one is given)
and then everything the client writes is read and decoded as
Acknowledgements (docs/PROTOCOL.md) with a DER reader of its own.

usage: ackserver.py CERT KEY SUCCESSOR PORT:SA:LOG:TRUST [...]

For each PORT it listens on 127.0.0.1, sends SA ("-": nothing) on every
connection, and appends to LOG one line per object the client sends:
    conn=N ack generation=G id=ID installed=yes|no
    conn=N garbage HEX
installed says whether the trust store TRUST (a PEM bundle) held the
certificate SUCCESSOR at the moment the ack arrived: an ack must follow
the durable write, never precede it. id is "-" when the ack has none.
"""
import base64
import re
import socket
import ssl
import sys
import threading


def der_head(b, i):
    """(tag, length, start of content) of the element at i, or None."""
    if i + 2 > len(b):
        return None
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or i + k > len(b):
            return None
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, n, i


def decode_ack(obj):
    """(generation, id) of one whole Acknowledgement, or None."""
    h = der_head(obj, 0)
    if h is None or h[0] != 0x30 or h[2] + h[1] != len(obj):
        return None
    i, end, fields = h[2], len(obj), []
    while i < end:
        e = der_head(obj, i)
        if e is None or e[2] + e[1] > end:
            return None
        fields.append((e[0], obj[e[2]:e[2] + e[1]]))
        i = e[2] + e[1]
    if len(fields) not in (2, 3) or fields[0] != (0x02, b"\x01") or fields[1][0] != 0x02:
        return None
    gen = int.from_bytes(fields[1][1], "big")
    ident = "-"
    if len(fields) == 3:
        if fields[2][0] != 0x0C:
            return None
        ident = fields[2][1].decode("utf-8")
    return gen, ident


def certs_in(path):
    try:
        text = open(path).read()
    except OSError:
        return []
    return [base64.b64decode(m) for m in
            re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)]


def serve(ctx, port, sa, log, trust, succ):
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(8)
    nconn = 0
    while True:
        raw, _ = lsock.accept()
        nconn += 1
        threading.Thread(target=conn, args=(ctx, raw, nconn, sa, log, trust, succ),
                         daemon=True).start()


def say(log, line):
    with open(log, "a") as f:
        f.write(line + "\n")


def conn(ctx, raw, n, sa, log, trust, succ):
    try:
        s = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    try:
        if sa is not None:
            s.sendall(sa)
        buf = b""
        while True:
            data = s.recv(4096)
            if not data:
                break
            buf += data
            while True:
                h = der_head(buf, 0)
                if h is None or len(buf) < h[2] + h[1]:
                    break
                obj, buf = buf[:h[2] + h[1]], buf[h[2] + h[1]:]
                ack = decode_ack(obj)
                if ack is None:
                    say(log, "conn=%d garbage %s" % (n, obj.hex()))
                else:
                    held = succ in certs_in(trust)
                    say(log, "conn=%d ack generation=%d id=%s installed=%s" %
                        (n, ack[0], ack[1], "yes" if held else "no"))
    except (ssl.SSLError, OSError):
        pass
    finally:
        s.close()


def main():
    cert, key, succ_path = sys.argv[1:4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    succ = certs_in(succ_path)[0]
    threads = []
    for spec in sys.argv[4:]:
        port, sa_path, log, trust = spec.split(":")
        sa = None if sa_path == "-" else open(sa_path, "rb").read()
        open(log, "a").close()
        t = threading.Thread(target=serve, args=(ctx, int(port), sa, log, trust, succ),
                             daemon=True)
        t.start()
        threads.append(t)
    print("listening", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
