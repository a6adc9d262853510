#!/usr/bin/env python3
"""The measuring half of the benchmark harness; `bench/run.sh` builds, seeds and calls it.

Starts the release server on the seeded PostgreSQL database (with Redis and the fake
WeChat), then measures, in this order, on loopback:
  start-to-ready and idle RSS; GET /healthz; browse (activities of a street, anonymous
  and signed-in; organizations nearest first, anonymous and signed-in); pgbench's
  default transaction; a crowd of 5,000 residents on one activity of 200 places, then
  5,000 more on 50 activities; a street's metrics over the year; 100,000 due reminders
  dispatched to the fake WeChat.
Prints each result, the targets met or missed, and writes everything to one JSON file.
Standard library only.
"""
import atexit
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ENV = os.environ
BIN = ENV["LINLI_BIN"]
DB_URL = ENV["DATABASE_URL"]
PORT = int(ENV["BENCH_PORT"])
FAKE = ENV["BENCH_FAKE"]
DURATION = int(ENV.get("BENCH_DURATION", "10"))
CONNS = int(ENV.get("BENCH_CONNECTIONS", "64"))
CROWD_CONNS = int(ENV.get("BENCH_CROWD_CONNECTIONS", "256"))
OUT = ENV.get("BENCH_OUT", "bench/out/results.json")
POOL = int(ENV.get("DATABASE_MAX_CONNECTIONS", "10"))
HERE = os.path.dirname(os.path.abspath(__file__))
WRK_SCRIPT = os.path.join(HERE, "wrk", "bench.lua")
BASE = f"http://127.0.0.1:{PORT}"
# A subset for a quick look (comma-separated): browse, pgbench, crowd, metrics, dispatch.
PHASES = set(ENV.get("BENCH_PHASES", "browse,pgbench,crowd,metrics,dispatch").split(","))

results = {"seed_seconds": float(ENV["BENCH_SEED_SECONDS"]) if ENV.get("BENCH_SEED_SECONDS") else None,
           "config": {"duration_s": DURATION, "connections": CONNS, "crowd_connections": CROWD_CONNS,
                      "database_pool": POOL, "cpus": os.cpu_count()}}


def log(msg):
    print(f"== {msg}", flush=True)


def sql(query):
    out = subprocess.run(["psql", DB_URL, "-Atqc", query], check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(user_id, token_version, secret):
    """An access token as the server issues it (HS256: sub, tv, iat, exp)."""
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": str(user_id), "tv": int(token_version), "iat": now, "exp": now + 3600}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class RssPeak:
    """Samples the server's RSS every 20 ms while a phase runs."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def __enter__(self):
        def run():
            while not self.stop.is_set():
                try:
                    self.peak = max(self.peak, rss_kib(self.pid))
                except OSError:
                    return
                time.sleep(0.02)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def mib(self):
        return round(self.peak / 1024, 1)


def get(path, token=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def write_lines(lines):
    f = tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt")
    f.write("\n".join(lines) + "\n")
    f.close()
    return f.name


def wrk(label, url_path, conns=CONNS, duration=DURATION, paths=None, tokens=None):
    env = dict(ENV, BENCH_LABEL=label, BENCH_PATHS=write_lines(paths) if paths else "",
               BENCH_TOKENS=write_lines(tokens) if tokens else "")
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{duration}s", "--timeout", "30s", "-s", WRK_SCRIPT, BASE + url_path]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    r = json.loads(line)
    print(json.dumps(r, ensure_ascii=False), flush=True)
    return r


def sequential(label, path, token, n=100):
    """p50/p95/p99 of one call made n times in turn on one connection, after 5 warm-ups."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    samples = []
    for i in range(n + 5):
        start = time.perf_counter()
        conn.request("GET", path, headers={"authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = resp.read()
        elapsed = (time.perf_counter() - start) * 1000
        if resp.status != 200:
            sys.exit(f"{path}: HTTP {resp.status}: {body[:300]!r}")
        if i >= 5:
            samples.append(elapsed)
    samples.sort()
    pct = lambda p: samples[min(len(samples) - 1, int(round(p / 100 * len(samples))) - 1)]
    r = {"label": label, "requests": n, "p50_ms": round(statistics.median(samples), 2), "p95_ms": round(pct(95), 2),
         "p99_ms": round(pct(99), 2), "max_ms": round(samples[-1], 2), "response_bytes": len(body)}
    print(json.dumps(r, ensure_ascii=False), flush=True)
    return r


def start_server():
    """Starts `linli serve` (migrations already applied) and times exec → /readyz 200."""
    try:
        get("/readyz", timeout=1)
        sys.exit(f"something already answers on port {PORT}: stop it or set BENCH_PORT")
    except OSError:
        pass
    log_file = open(os.path.join(os.path.dirname(OUT), "server.log"), "a")
    t0 = time.perf_counter()
    proc = subprocess.Popen([BIN, "serve"], stdout=log_file, stderr=subprocess.STDOUT)
    deadline = t0 + 30
    while True:
        try:
            status, _ = get("/readyz", timeout=1)
            if status == 200:
                break
        except OSError:
            pass
        if time.perf_counter() > deadline or proc.poll() is not None:
            sys.exit("the server did not become ready; see bench/out/server.log")
        time.sleep(0.002)
    return proc, time.perf_counter() - t0


def crowd(label, ids, activity_paths, tokens):
    """Each resident signs up once, CROWD_CONNS at a time (bench's crowd client: wrk
    cannot send each request exactly once with its own token). Sign-ups per second are
    also read off the server's own clock: the span from the first sign-up written to the
    last."""
    plan = write_lines([f"POST {path} {token}" for path, token in zip(activity_paths, tokens)])
    out = subprocess.run([ENV["CROWD_BIN"], BASE, plan, str(CROWD_CONNS)], check=True, capture_output=True,
                         text=True).stdout
    r = dict(label=label, **json.loads(out.strip().splitlines()[-1]))
    where = f"activity_id IN ({','.join(map(str, ids))})"
    count, span = sql(f"SELECT count(*), extract(epoch FROM max(created_at) - min(created_at)) FROM signups "
                      f"WHERE {where}")[0]
    r["server_span_s"] = round(float(span or 0), 3)
    r["signups_per_second"] = round(int(count) / float(span), 1) if span and float(span) > 0 else None
    print(json.dumps(r, ensure_ascii=False), flush=True)
    return r


def new_activities(n, capacity, days_ahead):
    """Published activities for a crowd, in the district's first organizations, in a
    two-hour window of their own (a rerun on the same database clashes with nothing)."""
    slot = int(time.time()) % 10000 * 3
    rows = sql(f"""
        INSERT INTO activities (organization_id, community_id, kind, title, description, location, latitude, longitude,
                                starts_at, ends_at, signup_deadline, cancel_cutoff_minutes, capacity, waitlist_enabled,
                                service_minutes, target_groups, status, confirmed_count, waitlist_count, signup_seq,
                                version, published_at, created_at, updated_at)
        SELECT o.id, o.community_id, 'volunteer', '抢报名' || g, '基准测试数据', '社区活动室', o.latitude, o.longitude,
               date_trunc('day', now()) + interval '{days_ahead} days {slot} hours',
               date_trunc('day', now()) + interval '{days_ahead} days {slot + 2} hours',
               date_trunc('day', now()) + interval '{days_ahead} days {slot} hours',
               120, {capacity}, true, 120, '', 'published', 0, 0, 0, 1, now(), now(), now()
        FROM generate_series(0, {n - 1}) g
        JOIN (SELECT id, community_id, latitude, longitude, row_number() OVER (ORDER BY id) - 1 AS k
              FROM organizations WHERE name LIKE '基准组织%') o ON o.k = g
        RETURNING id""")
    return [int(r[0]) for r in rows]


def check_crowd(ids, capacity, residents):
    per = sql(f"""SELECT a.id, a.confirmed_count, a.waitlist_count,
                         (SELECT count(*) FROM signups s WHERE s.activity_id = a.id AND s.status = 'confirmed'),
                         (SELECT count(*) FROM signups s WHERE s.activity_id = a.id AND s.status = 'waitlisted'),
                         (SELECT count(DISTINCT seq) FROM signups s WHERE s.activity_id = a.id)
                  FROM activities a WHERE a.id IN ({",".join(map(str, ids))})""")
    confirmed = sum(int(r[3]) for r in per)
    waitlisted = sum(int(r[4]) for r in per)
    exact = all(int(r[3]) == capacity and int(r[1]) == int(r[3]) and int(r[2]) == int(r[4])
                and int(r[5]) == int(r[3]) + int(r[4]) for r in per)
    return {"activities": len(ids), "confirmed": confirmed, "waitlisted": waitlisted,
            "signups": confirmed + waitlisted, "residents": residents,
            "exactly_capacity_each": exact and confirmed + waitlisted == residents}


def main():
    secret = ENV["JWT_SECRET"]
    server, ready_s = start_server()
    atexit.register(lambda: server.poll() is None and server.kill())
    pid = server.pid
    results["start_to_ready_s"] = round(ready_s, 3)
    log(f"ready in {ready_s * 1000:.0f} ms (pid {pid})")
    time.sleep(2)
    results["rss_idle_mib"] = round(rss_kib(pid) / 1024, 1)
    log(f"idle RSS {results['rss_idle_mib']} MiB")

    streets = sql("SELECT id FROM regions WHERE code LIKE '620199___000' AND level = 'street' ORDER BY code")
    places = sql("SELECT latitude, longitude FROM regions WHERE code LIKE '620199%' AND level = 'community' ORDER BY code")
    residents = sql("SELECT id, token_version FROM users WHERE openid LIKE 'bench-u-%' ORDER BY id LIMIT 10000")
    tokens = [mint(uid, tv, secret) for uid, tv in residents]
    browsers = tokens[:1000]
    activity_paths = [f"/api/v1/activities?region_id={s[0]}&limit=20" for s in streets]
    org_paths = [f"/api/v1/organizations?lat={float(lat) + 0.0004:.4f}&lng={float(lng) - 0.0002:.4f}&limit=20"
                 for lat, lng in places]
    status, body = get(activity_paths[0])
    assert status == 200 and len(json.loads(body)["items"]) == 20, (status, body[:200])
    status, body = get(org_paths[0])
    assert status == 200 and len(json.loads(body)["items"]) == 20, (status, body[:200])

    if "browse" in PHASES:
        browse(pid, activity_paths, org_paths, browsers)
    if "pgbench" in PHASES:
        pgbench()
    if "crowd" in PHASES:
        crowds(pid, tokens)
    if "metrics" in PHASES:
        street_metrics(streets, secret)
    if "dispatch" in PHASES:
        dispatch(pid)
    results["rss_peak_overall_mib"] = round(rss_kib(pid, "VmHWM") / 1024, 1)
    server.send_signal(signal.SIGTERM)
    results["exit_code"] = server.wait(timeout=60)
    report()


def browse(pid, activity_paths, org_paths, browsers):
    log("GET /healthz: the framework's ceiling in this binary")
    with RssPeak(pid) as peak:
        results["healthz"] = wrk("healthz", "/healthz")
        log("browse: activities of a street (10 streets in turn), 20 per page")
        results["activities_anonymous"] = wrk("activities_anonymous", activity_paths[0], paths=activity_paths)
        results["activities_signed_in"] = wrk("activities_signed_in", activity_paths[0], paths=activity_paths,
                                              tokens=browsers)
        log("browse: organizations nearest first (100 places in turn), 20 per page")
        results["organizations_nearest_anonymous"] = wrk("organizations_nearest_anonymous", org_paths[0], paths=org_paths)
        results["organizations_nearest_signed_in"] = wrk("organizations_nearest_signed_in", org_paths[0],
                                                         paths=org_paths, tokens=browsers)
    results["rss_browse_peak_mib"] = peak.mib
    log(f"peak RSS under browse {peak.mib} MiB")


def pgbench():
    log(f"pgbench: the default (TPC-B-like) transaction, scale 1, {POOL} clients (the server's pool)")
    admin = DB_URL.rsplit("/", 1)[0]
    subprocess.run(["psql", admin + "/test", "-qc", "DROP DATABASE IF EXISTS linli_pgbench WITH (FORCE)",
                    "-qc", "CREATE DATABASE linli_pgbench"], check=True, capture_output=True)
    subprocess.run(["pgbench", "-i", "-q", admin + "/linli_pgbench"], check=True, capture_output=True)
    out = subprocess.run(["pgbench", "-c", str(POOL), "-j", "2", "-T", str(DURATION),
                          admin + "/linli_pgbench"], check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
    lat = re.search(r"latency average = ([0-9.]+) ms", out)
    results["pgbench"] = {"clients": POOL, "scale": 1, "tps": tps, "latency_avg_ms": float(lat.group(1)) if lat else None}
    print(json.dumps(results["pgbench"]), flush=True)


def crowds(pid, tokens):
    log("sign-up crowd: 5,000 residents on one activity of 200 places, all at once")
    one = new_activities(1, 200, 30)
    with RssPeak(pid) as peak:
        r = crowd("signup_crowd_one_activity", one, [f"/api/v1/activities/{one[0]}/signups"] * 5000, tokens[:5000])
    r["check"] = check_crowd(one, 200, 5000)
    r["rss_peak_mib"] = peak.mib
    results["signup_crowd_one_activity"] = r
    print(json.dumps(r["check"]), flush=True)

    log("sign-up crowd: 5,000 other residents on 50 activities of 40 places, all at once")
    fifty = new_activities(50, 40, 31)
    paths = [f"/api/v1/activities/{fifty[i % 50]}/signups" for i in range(5000)]
    r = crowd("signup_crowd_fifty_activities", fifty, paths, tokens[5000:10000])
    r["check"] = check_crowd(fifty, 40, 5000)
    results["signup_crowd_fifty_activities"] = r
    print(json.dumps(r["check"]), flush=True)


def street_metrics(streets, secret):
    log("a street's metrics over the seeded year, as the street office")
    street = streets[0][0]
    subprocess.run([BIN, "grant-role", "--openid", "bench-street", "--role", "street", "--scope", street],
                   check=True, capture_output=True)
    official = sql("SELECT id, token_version FROM users WHERE openid = 'bench-street'")[0]
    frm = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 365 * 86400))
    results["street_metrics_year"] = sequential("street_metrics_year", f"/api/v1/regions/{street}/metrics?from={frm}",
                                                mint(official[0], official[1], secret))
    # The whole district (all 1,000,000 attendance rows beneath), as its civil-affairs bureau.
    county = sql("SELECT id FROM regions WHERE code = '620199000000'")[0][0]
    subprocess.run([BIN, "grant-role", "--openid", "bench-county", "--role", "civil_affairs", "--scope", county],
                   check=True, capture_output=True)
    official = sql("SELECT id, token_version FROM users WHERE openid = 'bench-county'")[0]
    results["district_metrics_year"] = sequential("district_metrics_year",
                                                  f"/api/v1/regions/{county}/metrics?from={frm}",
                                                  mint(official[0], official[1], secret), n=50)


def dispatch(pid):
    log("dispatch: 100,000 due reminders to the fake WeChat (answers at once)")
    fake_before = json.loads(http_get(FAKE + "/__fake/stats"))["sends"]
    sql("DELETE FROM notifications WHERE dedupe_key LIKE 'bench-reminder:%'")
    sql("""INSERT INTO subscription_quotas (user_id, template_id, balance, banned, updated_at)
           SELECT id, 'bench-tpl-reminder', 1, false, now() FROM users WHERE openid LIKE 'bench-u-%'
           ON CONFLICT (user_id, template_id) DO UPDATE SET balance = subscription_quotas.balance + 1""")
    with RssPeak(pid) as peak:
        t0 = time.time()
        sql("""INSERT INTO notifications (user_id, kind, title, body, activity_id, organization_id, dedupe_key,
                                          created_at, state, due_at, attempts, purpose, offset_secs, quota_reserved)
               SELECT u.id, 'reminder', '活动提醒', '您报名的活动明天开始。', a.id, a.organization_id,
                      'bench-reminder:' || u.id, now(), 'pending', now(), 0, 'reminder', 86400, false
               FROM users u
               JOIN LATERAL (SELECT id, organization_id FROM activities
                             WHERE community_id = u.home_community_id AND status = 'published'
                             ORDER BY starts_at LIMIT 1) a ON true
               WHERE u.openid LIKE 'bench-u-%'""")
        queued = time.time()
        # Watched through the fake's counter (polling the table would load the database).
        while json.loads(http_get(FAKE + "/__fake/stats"))["sends"] < fake_before + 100000:
            if time.time() - queued > 300:
                break
            time.sleep(0.05)
        done = time.time()
        for _ in range(100):  # the last chunk's outcomes being written
            if sql("SELECT count(*) FROM notifications WHERE dedupe_key LIKE 'bench-reminder:%' "
                   "AND state IN ('pending', 'sending')")[0][0] == "0":
                break
            time.sleep(0.1)
    rows = sql("""SELECT count(*) FILTER (WHERE state = 'sent'), count(*),
                         extract(epoch FROM max(sent_at) - min(sent_at)),
                         count(*) FILTER (WHERE state <> 'sent')
                  FROM notifications WHERE dedupe_key LIKE 'bench-reminder:%'""")[0]
    sent, total, span, other = int(rows[0]), int(rows[1]), float(rows[2] or 0), int(rows[3])
    fake_sends = json.loads(http_get(FAKE + "/__fake/stats"))["sends"] - fake_before
    results["dispatch"] = {"notices": total, "sent": sent, "not_sent": other, "fake_received": fake_sends,
                           "first_to_last_send_s": round(span, 2),
                           "per_second": round(sent / span, 1) if span else None,
                           "queued_to_done_s": round(done - queued, 2),
                           "per_second_end_to_end": round(sent / (done - queued), 1),
                           "rss_peak_mib": peak.mib}
    print(json.dumps(results["dispatch"]), flush=True)


def http_get(url):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", u.path)
    return conn.getresponse().read()


def report():
    r = results
    targets = []

    def target(name, value, goal, ok):
        targets.append({"target": name, "value": value, "goal": goal, "met": bool(ok)})

    if "healthz" in r:
        hz = r["healthz"]["rps"]
        for key in ("activities_anonymous", "activities_signed_in", "organizations_nearest_anonymous",
                    "organizations_nearest_signed_in"):
            b = r[key]
            ratio = round(b["rps"] / hz, 3)
            b["ratio_to_healthz"] = ratio
            clean = set(b["statuses"]) == {"200"} and b["socket_errors"] == 0
            target(f"{key}: throughput / healthz", ratio, ">= 0.5", ratio >= 0.5 and clean)
            target(f"{key}: p99 at {CONNS} connections", b["p99_ms"], "<= 20 ms", b["p99_ms"] <= 20)
        target("RSS peak under browse", r["rss_browse_peak_mib"], "<= 200 MiB", r["rss_browse_peak_mib"] <= 200)
    for key, expected in (("signup_crowd_one_activity", 200), ("signup_crowd_fifty_activities", 2000)):
        if key not in r:
            continue
        c = r[key]
        if "pgbench" in r:
            ratio = round((c["signups_per_second"] or 0) / r["pgbench"]["tps"], 3)
            c["ratio_to_pgbench"] = ratio
            target(f"{key}: sign-ups/s / pgbench tps", ratio, ">= 0.7", ratio >= 0.7)
        errors = sum(v for k, v in c["statuses"].items() if k != "201") + c["socket_errors"]
        clean = errors == 0 and c["requests"] == 5000
        target(f"{key}: confirmed, errors", f"{c['check']['confirmed']} confirmed, {errors} errors",
               f"exactly {expected}, zero errors",
               clean and c["check"]["exactly_capacity_each"] and c["check"]["confirmed"] == expected)
    if "street_metrics_year" in r:
        target("street metrics over a year: p95", r["street_metrics_year"]["p95_ms"], "<= 50 ms",
               r["street_metrics_year"]["p95_ms"] <= 50)
    if "dispatch" in r:
        d = r["dispatch"]
        target("reminders dispatched per second", d["per_second"], ">= 5000",
               (d["per_second"] or 0) >= 5000 and d["sent"] == 100000 and d["fake_received"] == 100000)
    target("RSS idle", r["rss_idle_mib"], "<= 50 MiB", r["rss_idle_mib"] <= 50)
    target("start to ready after migrations", r["start_to_ready_s"], "<= 1 s", r["start_to_ready_s"] <= 1)
    r["targets"] = targets
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(r, f, ensure_ascii=False, indent=2)
    print()
    print(f"{'target':<62} {'value':>24}  {'goal':<28} met")
    for t in targets:
        print(f"{t['target']:<62} {str(t['value']):>24}  {t['goal']:<28} {'yes' if t['met'] else 'NO'}")
    print(f"\nresults written to {OUT}")


if __name__ == "__main__":
    main()
