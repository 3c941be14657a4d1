#!/usr/bin/env python3
"""A fake profiler target for watch's tests (issue 23).

    faketarget.py MODE

Listens on 127.0.0.1 (a free port), prints the port on its first line,
then answers every request on a thread of its own:
  slow   200 with a 100000-byte body, one byte every 2 s (for 10 minutes)
  bomb   200 with a gzip body of 500 KB that expands to 500 MB of zeros
It runs until killed.
"""
import socket
import sys
import threading
import time
import zlib


def bomb():
    """500 gzip members of 1 MiB of zeros: about 500 KB, 500 MB inflated."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    member = c.compress(bytes(1 << 20)) + c.flush()
    return member * 500


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


def serve(conn, mode, body):
    try:
        if not read_head(conn):
            return
        if mode == "slow":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: 100000\r\nConnection: close\r\n\r\n")
            for _ in range(300):
                conn.sendall(b"\x1f")
                time.sleep(2)
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    mode = sys.argv[1]
    body = bomb() if mode == "bomb" else b""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, mode, body), daemon=True).start()


if __name__ == "__main__":
    main()
