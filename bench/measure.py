#!/usr/bin/env python3
"""Times one API call repeatedly and prints p50/p95/p99 (milliseconds).

usage: measure.py BASE_URL TOKEN PATH [N] [LABEL]
Sequential requests on one keep-alive connection, after 5 warm-up calls.
"""
import http.client
import json
import statistics
import sys
import time
from urllib.parse import urlparse


def main() -> None:
    base, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 50
    label = sys.argv[5] if len(sys.argv) > 5 else path
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"authorization": f"Bearer {token}"}
    samples = []
    for i in range(n + 5):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        elapsed = (time.perf_counter() - start) * 1000
        if resp.status != 200:
            sys.exit(f"{path}: HTTP {resp.status}: {body[:300]!r}")
        if i >= 5:
            samples.append(elapsed)
    samples.sort()
    pct = lambda p: samples[min(len(samples) - 1, int(round(p / 100 * len(samples))) - 1)]
    result = {
        "label": label,
        "requests": n,
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(pct(95), 2),
        "p99_ms": round(pct(99), 2),
        "max_ms": round(samples[-1], 2),
        "response_bytes": len(body),
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
