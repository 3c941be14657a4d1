#!/usr/bin/env python3
"""A small forwarding HTTP proxy, for takhin-profiler's transport tests.

Absolute-form requests ("GET http://host:port/path HTTP/1.1") are sent on
to the origin in origin form (Proxy-* headers dropped, one request per
connection); CONNECT host:port opens a tunnel (for https). Each request is
logged as its first line ("GET http://...", "CONNECT host:port"), so a
test can tell that a client really went through the proxy. Writes its
port to --port-file once it listens; stops on SIGTERM.

  fwdproxy.py --port-file F --log L
"""
import argparse
import os
import select
import signal
import socket
import socketserver
import sys
import urllib.parse


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 65536:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def pipe(a, b):
    socks = [a, b]
    while True:
        r, _, _ = select.select(socks, [], [], 60)
        if not r:
            return
        for s in r:
            d = s.recv(65536)
            if not d:
                return
            (b if s is a else a).sendall(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            c = self.request
            head, rest = read_head(c)
            if head is None:
                return
            lines = head.split("\r\n")
            first = lines[0]
            with open(a.log, "a") as lf:
                lf.write(first + "\n")
            try:
                method, target, version = first.split(" ", 2)
            except ValueError:
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                if method == "CONNECT":
                    host, port = target.rsplit(":", 1)
                    up = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
                    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    if rest:
                        up.sendall(rest)
                    pipe(c, up)
                    up.close()
                    return
                u = urllib.parse.urlsplit(target)
                if u.scheme != "http" or not u.hostname:
                    c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    return
                up = socket.create_connection((u.hostname, u.port or 80), timeout=60)
            except OSError as e:
                body = ("proxy: %s\n" % e).encode()
                c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                return
            path = u.path or "/"
            if u.query:
                path += "?" + u.query
            out = ["%s %s %s" % (method, path, version)]
            for h in lines[1:]:
                name = h.split(":", 1)[0].strip().lower()
                if name.startswith("proxy-") or name == "connection":
                    continue
                out.append(h)
            out.append("Connection: close")
            up.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + rest)
            while True:
                d = up.recv(65536)
                if not d:
                    break
                c.sendall(d)
            up.close()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
