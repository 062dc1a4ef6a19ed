#!/usr/bin/env python3
"""Slow clients: each thread loops POST /setSession over a new connection,
sending the form body a few bytes at a time over SECONDS (a phone on a bad
uplink), so requests are always in flight while a pod is being stopped.
  slow-posts.py HOST PORT THREADS SECONDS STOPFILE OUT.json
Stops starting requests once STOPFILE exists; every request started is
finished. Counts every answer that is not 2xx/3xx and every transport error
as a failure. Writes {requests, ok, failed, statuses, errors} to OUT.json.
"""
import json
import os
import socket
import sys
import threading
import time

host, port, threads, secs, stopfile, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
lock = threading.Lock()
res = {"requests": 0, "ok": 0, "failed": 0, "statuses": {}, "errors": []}


def one(tid, n):
    body = ("value=slow-%d-%d-" % (tid, n) + "x" * 40).encode()
    head = ("POST /setSession HTTP/1.1\r\nHost: %s:%d\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (host, port, len(body))).encode()
    status, err = None, None
    try:
        s = socket.create_connection((host, port), timeout=secs + 40)
        s.sendall(head)
        chunks = 8
        step = max(1, len(body) // chunks)
        for i in range(0, len(body), step):
            time.sleep(secs / chunks)
            s.sendall(body[i:i + step])
        data = b""
        while b"\r\n" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        line = data.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            status = int(parts[1])
        else:
            err = "no status line: %r" % line[:80]
    except OSError as e:
        err = "%s: %s" % (type(e).__name__, e)
    with lock:
        res["requests"] += 1
        if status is not None:
            res["statuses"][str(status)] = res["statuses"].get(str(status), 0) + 1
        if status is not None and 200 <= status < 400:
            res["ok"] += 1
        else:
            res["failed"] += 1
            if len(res["errors"]) < 10:
                res["errors"].append("%s %s" % (time.strftime("%H:%M:%S"), err or "HTTP %d" % status))


def loop(tid):
    n = 0
    while not os.path.exists(stopfile):
        one(tid, n)
        n += 1


ts = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
with open(out, "w") as f:
    json.dump(res, f)
