#!/usr/bin/env python3
"""Raw Kafka frames for takhind's listener tests: what no client library
sends (bad lengths, truncated frames, unknown APIs, bad CRCs), and many
idle connections.

  kafka_raw.py bad PORT CASE     sends one bad request, prints what came
                                 back: "closed" or "error=N" (then checks the
                                 same connection still answers: " alive")
  kafka_raw.py idle PORT N       opens N connections, prints "ready", and
                                 holds them until stdin closes
"""
import resource
import socket
import struct
import sys
import time

TIMEOUT = 20


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def string(s):
    return struct.pack(">h", len(s)) + s


def header(key, version, corr=7):
    return struct.pack(">hhi", key, version, corr) + string(b"kafka_raw")


def frame(body):
    return struct.pack(">i", len(body)) + body


def batch(value, corrupt=False):
    rec = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(len(value)) + value + varint(0)
    rec = varint(len(rec)) + rec
    after_crc = struct.pack(">hiqqqhii", 0, 0, 1, 1, -1, -1, -1, 1) + rec
    crc = crc32c(after_crc) ^ (1 if corrupt else 0)
    head = struct.pack(">qiib", 0, 4 + 1 + 4 + len(after_crc), 0, 2) + struct.pack(">I", crc)
    return head + after_crc


def produce(topic, records, version=3):
    body = header(0, version) + struct.pack(">hhii", -1, 1, 5000, 1) + string(topic)
    body += struct.pack(">ii", 1, 0) + struct.pack(">i", len(records)) + records
    return frame(body)


def api_versions(version=0, corr=9):
    return frame(header(18, version, corr))


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def recv_frame(s):
    """The response body after its correlation id, or None when closed."""
    try:
        head = recv_exact(s, 4)
        if head is None:
            return None
        return recv_exact(s, struct.unpack(">i", head)[0])
    except (ConnectionResetError, socket.timeout):
        return None


def alive(s):
    s.sendall(api_versions())
    body = recv_frame(s)
    return body is not None and body[4:6] == b"\x00\x00"


CASES = {
    "oversized": lambda: struct.pack(">i", 1 << 24) + b"x" * 64,
    "negative": lambda: struct.pack(">i", -5) + b"x" * 16,
    "truncated": lambda: struct.pack(">i", 100) + b"x" * 10,
    "short_fields": lambda: frame(header(3, 1) + struct.pack(">i", 5)),
    "unknown_api": lambda: frame(header(999, 0)),
    "bad_version": lambda: frame(header(0, 1)),
    "api_versions_too_new": lambda: api_versions(version=9),
    "bad_crc": lambda: produce(b"badcrc", batch(b"hello", corrupt=True)),
    "good_produce": lambda: produce(b"rawgood", batch(b"hello")),
}


def bad(port, case):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.sendall(CASES[case]())
    if case == "truncated":
        s.shutdown(socket.SHUT_WR)
    body = recv_frame(s)
    if body is None:
        print("closed")
        return
    if case in ("bad_crc", "good_produce"):
        # responses[1]{name, partitions[1]{index, error_code, ...}}
        n = struct.unpack(">h", body[8:10])[0]
        err = struct.unpack(">h", body[10 + n + 8:10 + n + 10])[0]
    else:
        err = struct.unpack(">h", body[4:6])[0]
    print("error=%d%s" % (err, " alive" if alive(s) else " dead"))


def idle(port, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 64)), hard))
    conns = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(n)]
    print("ready", flush=True)
    sys.stdin.read()
    for c in conns:
        c.close()


if __name__ == "__main__":
    if sys.argv[1] == "bad":
        bad(int(sys.argv[2]), sys.argv[3])
    else:
        idle(int(sys.argv[2]), int(sys.argv[3]))
