#!/usr/bin/env python3
"""A stand-in for the profiler port, for takhin-profiler's transport tests.

Serves one file (a real profile fetched from takhind first) at every
/debug/pprof/... path, over HTTP or HTTPS (python's ssl), on IPv4 or IPv6,
optionally requiring a client certificate, or answering every request
with a redirect. Logs one line per request: "METHOD PATH HOST AUTH".
Writes the port it got (port 0: the kernel's choice) to --port-file once
it listens. Stops on SIGTERM.

  pprofserve.py --port-file F --profile P [--host ::1] [--log L]
                [--cert C --key K [--client-ca CA]] [--redirect BASE]
"""
import argparse
import http.server
import os
import signal
import socket
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--log")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-ca")
    ap.add_argument("--redirect", help="answer 302 to BASE + the request's path")
    a = ap.parse_args()

    with open(a.profile, "rb") as f:
        profile = f.read()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet on stderr
            pass

        def do_GET(self):
            if a.log:
                with open(a.log, "a") as lf:
                    lf.write("%s %s %s %s\n" % (self.command, self.path,
                                                self.headers.get("Host", "-"),
                                                self.headers.get("Authorization", "-")))
            if a.redirect:
                self.send_response(302)
                self.send_header("Location", a.redirect + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if not self.path.startswith("/debug/pprof/"):
                body = b"no such endpoint\n"
                self.send_response(404)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("X-Go-Pprof", "1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(profile)))
            self.end_headers()
            self.wfile.write(profile)

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
        daemon_threads = True

    srv = Server((a.host, 0), Handler)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        if a.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(a.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
