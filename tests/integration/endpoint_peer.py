#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# Test peers for endpoint scanning, each on 127.0.0.1:PORT until killed:
#   smtp CERT KEY    an SMTP server: 220 greeting, EHLO, STARTTLS, then TLS
#   imap CERT KEY    an IMAP server: * OK greeting, a STARTTLS, then TLS
#   inject           SMTP that sends a line more after its STARTTLS reply
#   smtpflood        SMTP whose EHLO reply never ends
#   drip             one byte a second, forever
#   reset            reads the ClientHello, then resets the connection
#   garbage          answers the ClientHello with an HTTP error and closes
#   silent           accepts and never says anything
# usage: endpoint_peer.py MODE PORT [CERT KEY]
import socket
import ssl
import sys
import threading
import time

mode, port = sys.argv[1], int(sys.argv[2])
ctx = None
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])


def readline(c):
    b = b""
    while not b.endswith(b"\n"):
        x = c.recv(1)
        if not x:
            raise EOFError
        b += x
    return b


def tls(c):
    s = ctx.wrap_socket(c, server_side=True)
    try:
        s.recv(1)
    except Exception:
        pass
    s.close()


def serve(c):
    try:
        if mode == "smtp" or mode == "inject" or mode == "smtpflood":
            c.sendall(b"220-test.invalid ESMTP\r\n220 ready\r\n")
            readline(c)  # EHLO
            if mode == "smtpflood":
                while True:
                    c.sendall(b"250-" + b"x" * 200 + b"\r\n")
            c.sendall(b"250-test.invalid\r\n250-SIZE 1000\r\n250 STARTTLS\r\n")
            if readline(c).strip().upper() != b"STARTTLS":
                c.sendall(b"502 no\r\n")
                return
            if mode == "inject":
                c.sendall(b"220 go ahead\r\n250 injected\r\n")
                time.sleep(2)
                return
            c.sendall(b"220 go ahead\r\n")
            tls(c)
        elif mode == "imap":
            c.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
            line = readline(c)
            if line.strip() != b"a STARTTLS":
                c.sendall(b"a BAD what\r\n")
                return
            c.sendall(b"* CAPABILITY IMAP4rev1\r\na OK begin TLS\r\n")
            tls(c)
        elif mode == "drip":
            for b in b"\x16\x03\x03\x00\x40" + b"\x02" * 64:
                c.sendall(bytes([b]))
                time.sleep(1)
        elif mode == "reset":
            c.recv(4096)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        elif mode == "garbage":
            c.recv(4096)
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + b"\xff" * 300)
        elif mode == "silent":
            time.sleep(3600)
    except Exception:
        pass
    finally:
        c.close()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(64)
print("listening", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
