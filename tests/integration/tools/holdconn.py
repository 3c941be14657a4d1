#!/usr/bin/env python3
"""Connections that hold a server's workers, for the lock-out tests.

holdconn.py SECONDS COUNT HEAD TARGET...

Opens COUNT connections spread over the TARGETs (tcp:PORT on 127.0.0.1, or
unix:PATH), sends HEAD on each (Python escapes: \\r, \\n), then one more
byte every 0.5 s without ever ending the request, and reopens a
connection the server closes 0.1 s later (not one it refused), until
SECONDS pass or a SIGTERM comes. Writes "ready" on
stdout once every connection was tried once, then at the end one line of
JSON: connections made, refused with a permission error (EACCES, EPERM),
refused otherwise, and closed by the server.
"""
import json
import selectors
import signal
import socket
import sys
import time


def connect(target):
    kind, _, where = target.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(where)
    else:
        s = socket.create_connection(("127.0.0.1", int(where)), timeout=2)
    s.setblocking(False)
    return s


def main():
    seconds, count = float(sys.argv[1]), int(sys.argv[2])
    head = sys.argv[3].encode().decode("unicode_escape").encode("latin-1")
    targets = sys.argv[4:]
    stats = {"made": 0, "denied": 0, "refused": 0, "closed": 0}
    sel = selectors.DefaultSelector()
    slots = [None] * count
    retry_at = [0.0] * count  # a closed connection is reopened 0.1 s later
    end = time.monotonic() + seconds

    def stop(*_):
        nonlocal end
        end = 0

    signal.signal(signal.SIGTERM, stop)

    def open_slot(i):
        try:
            s = connect(targets[i % len(targets)])
            s.send(head)
        except PermissionError:
            stats["denied"] += 1
            slots[i] = False  # not retried
            return
        except OSError:
            stats["refused"] += 1
            slots[i] = False
            return
        stats["made"] += 1
        slots[i] = s
        sel.register(s, selectors.EVENT_READ, i)

    for i in range(count):
        open_slot(i)
    print("ready", flush=True)
    next_byte = time.monotonic() + 0.5
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.1):
            s, i = key.fileobj, key.data
            try:
                gone = s.recv(4096) == b""
            except BlockingIOError:
                continue
            except OSError:
                gone = True
            if gone:
                stats["closed"] += 1
                sel.unregister(s)
                s.close()
                slots[i] = None
                retry_at[i] = time.monotonic() + 0.1
        if time.monotonic() >= next_byte:
            next_byte += 0.5
            for s in slots:
                if s:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
        for i in range(count):
            if slots[i] is None and time.monotonic() >= retry_at[i]:
                open_slot(i)
    print(json.dumps(stats), flush=True)


main()
