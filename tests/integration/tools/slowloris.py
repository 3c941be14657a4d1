#!/usr/bin/env python3
"""Slow clients against the profiler port, and an operator timed through them.

Attackers, on one non-blocking event loop, each reconnecting whenever the
server cuts it off:
  dribble   sends a request line one byte every --dribble-every s, never ends it
  trickle   declares a 1,000,000-byte body, then sends one byte every
            --trickle-every s
  idle      connects and sends nothing
They bind source addresses from --addrs (first-last, e.g. 127.0.0.2-127.0.0.61,
round robin), so per-address caps do not hide the problem; --addrs 127.0.0.1
puts them on the operator's address.

Once every attacker is connected (or --settle s passed), the operator sends
--tries requests for --path with the token (GETs, or POSTs of the file
--body), one every --gap s, each on a new connection, and times each from connect to the end of the answer. The
attackers run in a process of their own: the operator's times are not
spent waiting for the attackers' interpreter.

Prints one line of JSON: the operator's times (p50, p99, max, in s), the
statuses it got, and how often attackers were cut off. Exit 0 unless the
operator got no answer at all.
"""
import argparse
import ipaddress
import json
import multiprocessing
import resource
import selectors
import socket
import sys
import threading
import time

DRIBBLE = b"GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4000
TRICKLE_HEAD = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"


def addresses(spec):
    first, _, last = spec.partition("-")
    a = int(ipaddress.IPv4Address(first))
    b = int(ipaddress.IPv4Address(last or first))
    return [str(ipaddress.IPv4Address(i)) for i in range(a, b + 1)]


class Attacker:
    def __init__(self, kind, addr):
        self.kind, self.addr = kind, addr
        self.sock = None
        self.sent = 0
        self.next_send = 0.0
        self.connected = False


class Swarm:
    """Every attacker on one selector; a cut-off attacker reconnects."""

    def __init__(self, port, args):
        self.port, self.args = port, args
        self.sel = selectors.DefaultSelector()
        self.attackers = []
        self.cuts = {"dribble": 0, "trickle": 0, "idle": 0}
        self.connect_errors = 0
        self.stop = threading.Event()
        addrs = addresses(args.addrs)
        kinds = (["dribble"] * args.dribble + ["trickle"] * args.trickle + ["idle"] * args.idle)
        for i, kind in enumerate(kinds):
            self.attackers.append(Attacker(kind, addrs[i % len(addrs)]))

    def connect(self, a):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((a.addr, 0))
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            self.connect_errors += 1
            s.close()
            a.sock = None
            a.next_send = time.monotonic() + 0.1
            return
        a.sock, a.sent, a.connected = s, 0, False
        a.next_send = time.monotonic()
        self.sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, a)

    def drop(self, a):
        if a.sock is not None:
            self.sel.unregister(a.sock)
            a.sock.close()
            a.sock = None
            if a.connected:
                self.cuts[a.kind] += 1

    def connected(self):
        return sum(1 for a in self.attackers if a.connected)

    def send_due(self, a, now):
        if not a.connected or a.kind == "idle" or now < a.next_send:
            return
        if a.kind == "dribble":
            data = DRIBBLE[a.sent % len(DRIBBLE):][:1]
            a.next_send = now + self.args.dribble_every
        elif a.sent < len(TRICKLE_HEAD):
            data = TRICKLE_HEAD[a.sent:]
            a.next_send = now + self.args.trickle_every
        else:
            data = b"x"
            a.next_send = now + self.args.trickle_every
        try:
            a.sent += a.sock.send(data)
        except OSError:
            self.drop(a)

    def event(self, a, mask):
        if mask & selectors.EVENT_WRITE and not a.connected:
            if a.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                self.connect_errors += 1
                self.drop(a)
                a.next_send = time.monotonic() + 0.1  # refused: no busy loop
                return
            a.connected = True
            self.sel.modify(a.sock, selectors.EVENT_READ, a)
        if mask & selectors.EVENT_READ:
            try:
                data = a.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                self.drop(a)

    def run(self):
        for a in self.attackers:
            self.connect(a)
        while not self.stop.is_set():
            for key, mask in self.sel.select(timeout=0.05):
                if key.data.sock is not None:
                    self.event(key.data, mask)
            now = time.monotonic()
            for a in self.attackers:
                if a.sock is None and now >= a.next_send:
                    self.connect(a)
                elif a.sock is not None:
                    self.send_due(a, now)
        for a in self.attackers:
            if a.sock is not None:
                self.sel.unregister(a.sock)
                a.sock.close()


def swarm_process(port, args, pipe):
    """The attackers' process: reports how many are connected once settled,
    runs until told to stop, then reports what happened to them."""
    swarm = Swarm(port, args)
    th = threading.Thread(target=swarm.run, daemon=True)
    th.start()
    total = len(swarm.attackers)
    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline and swarm.connected() < total:
        time.sleep(0.05)
    time.sleep(1.0)  # the dribblers and tricklers are under way
    pipe.send({"attackers": total, "connected_at_start": swarm.connected()})
    pipe.recv()
    at_end = swarm.connected()
    swarm.stop.set()
    th.join()
    pipe.send({"connected_at_end": at_end, "cuts": swarm.cuts,
               "connect_errors": swarm.connect_errors})


def operator_request(port, path, token, timeout, body=None):
    """(seconds, status) of one request on a fresh connection: a GET, or
    a POST of body (JSON)."""
    t0 = time.monotonic()
    method, extra = "GET", ""
    if body is not None:
        method = "POST"
        extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    req = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
           f"{extra}Connection: close\r\n\r\n").encode() + (body or b"")
    status = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(req)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        if data.startswith(b"HTTP/1."):
            status = int(data[9:12])
        if status != 200:
            print(f"operator: {data[-120:]!r}", file=sys.stderr)
    except OSError as e:
        print(f"operator: {e}", file=sys.stderr)
        status = -1
    return time.monotonic() - t0, status


def percentile(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, -(-len(xs) * p // 100) - 1))
    return xs[int(k)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--path", default="/debug/pprof/cmdline")
    ap.add_argument("--body", help="a file: the operator POSTs it (JSON) instead of a GET")
    ap.add_argument("--dribble", type=int, default=100)
    ap.add_argument("--trickle", type=int, default=100)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--addrs", default="127.0.0.2-127.0.0.101")
    ap.add_argument("--dribble-every", type=float, default=0.5)
    ap.add_argument("--trickle-every", type=float, default=4.0)
    ap.add_argument("--tries", type=int, default=20)
    ap.add_argument("--gap", type=float, default=0.25)
    ap.add_argument("--settle", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    body = None
    if args.body:
        with open(args.body, "rb") as f:
            body = f.read()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.dribble + args.trickle + args.idle + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))

    ours, theirs = multiprocessing.Pipe()
    attackers = multiprocessing.Process(target=swarm_process, args=(args.port, args, theirs))
    attackers.start()
    report = ours.recv()
    times, statuses = [], []
    for _ in range(args.tries):
        t, status = operator_request(args.port, args.path, args.token, args.timeout, body)
        times.append(t)
        statuses.append(status)
        time.sleep(args.gap)
    ours.send("stop")
    report.update(ours.recv())
    attackers.join()
    report.update({
        "p50": round(percentile(times, 50), 4), "p99": round(percentile(times, 99), 4),
        "max": round(max(times), 4), "statuses": statuses, "times": [round(t, 4) for t in times],
    })
    print(json.dumps(report))
    return 0 if any(s > 0 for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
