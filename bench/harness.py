#!/usr/bin/env python3
"""The measuring half of the benchmark harness; `bench/run.sh` builds, seeds and calls it.

Starts the release server on the seeded PostgreSQL database (with Redis and the fake
WeChat), then measures, in this order, on loopback:
  start-to-ready and idle RSS; GET /healthz; browse (activities of a street, anonymous
  and signed-in; organizations nearest first, anonymous and signed-in); pgbench's
  default transaction; a crowd of 5,000 residents on one activity of 200 places, then
  5,000 more on 50 activities; a street's metrics over the year; 100,000 due reminders
  dispatched to the fake WeChat and the RSS a minute after; three replicas on one
  database (browse side by side, a crowd split across them); the embedded default (SQLite)
  against a plain SQLite write loop.
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
PGBENCH_CLIENTS = int(ENV.get("BENCH_PGBENCH_CLIENTS", "16"))
# pgbench and the crowds run this many times in turn; each crowd's verdict is its median
# round (this machine's runs differ by up to half; a median of several is steadier).
REPEAT = max(1, int(ENV.get("BENCH_REPEAT", "1")))
HERE = os.path.dirname(os.path.abspath(__file__))
WRK_SCRIPT = os.path.join(HERE, "wrk", "bench.lua")
BASE = f"http://127.0.0.1:{PORT}"
# A subset for a quick look (comma-separated): browse, pgbench, crowd, metrics, dispatch.
PHASES = set(ENV.get("BENCH_PHASES", "browse,pgbench,crowd,metrics,dispatch,replicas,sqlite").split(","))

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


def cpu_seconds():
    """Cumulative CPU (user + system, seconds) of Linli's servers, the fake WeChat and
    PostgreSQL's processes, from /proc: the dispatch's cost per notice for each, which
    moves far less between runs than the rate on this shared machine."""
    hz = os.sysconf("SC_CLK_TCK")
    out = {"linli": 0.0, "postgres": 0.0, "fake": 0.0}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        secs = (int(fields[11]) + int(fields[12])) / hz
        if cmd.startswith(BIN) and " serve" in cmd:
            out["linli"] += secs
        elif "fake-wechat" in cmd:
            out["fake"] += secs
        elif comm == "postgres":
            out["postgres"] += secs
    return out


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
    rounds = []
    for i in range(REPEAT if {"pgbench", "crowd"} & PHASES else 0):
        if REPEAT > 1:
            log(f"round {i + 1} of {REPEAT}: pgbench, then the crowds")
        if "pgbench" in PHASES:
            pgbench()
        if "crowd" in PHASES:
            crowds(pid, tokens)
        rounds.append({k: results.get(k) for k in ("pgbench", *CROWDS)})
    if len(rounds) > 1:
        median_rounds(rounds)
    if "metrics" in PHASES:
        street_metrics(streets, secret)
    if "dispatch" in PHASES:
        dispatch(pid)
    if "replicas" in PHASES:
        replicas(tokens)
    if "sqlite" in PHASES:
        sqlite_crowd()
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
    """pgbench's default (TPC-B-like) transaction at scale 1 and scale 10, 16 clients each:
    the database's own transaction rate on this machine, in this run. The higher of the
    two is the reference for the sign-up crowds (issue 17)."""
    admin = DB_URL.rsplit("/", 1)[0]
    runs = []
    for scale in (1, 10):
        log(f"pgbench: the default (TPC-B-like) transaction, scale {scale}, {PGBENCH_CLIENTS} clients")
        subprocess.run(["psql", admin + "/test", "-qc", "DROP DATABASE IF EXISTS linli_pgbench WITH (FORCE)",
                        "-qc", "CREATE DATABASE linli_pgbench"], check=True, capture_output=True)
        subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), admin + "/linli_pgbench"], check=True,
                       capture_output=True)
        out = subprocess.run(["pgbench", "-c", str(PGBENCH_CLIENTS), "-j", "2", "-T", str(DURATION),
                              admin + "/linli_pgbench"], check=True, capture_output=True, text=True).stdout
        tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
        lat = re.search(r"latency average = ([0-9.]+) ms", out)
        runs.append({"clients": PGBENCH_CLIENTS, "scale": scale, "tps": tps,
                     "latency_avg_ms": float(lat.group(1)) if lat else None})
        print(json.dumps(runs[-1]), flush=True)
    subprocess.run(["psql", admin + "/test", "-qc", "DROP DATABASE IF EXISTS linli_pgbench WITH (FORCE)"],
                   check=True, capture_output=True)
    results["pgbench_runs"] = runs
    results["pgbench"] = max(runs, key=lambda r: r["tps"])


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


CROWDS = ("signup_crowd_one_activity", "signup_crowd_fifty_activities")


def median_rounds(rounds):
    """Each crowd's result becomes its median round by the ratio to that round's pgbench
    (the lower median for an even count: always a run that happened), with every round's
    ratio beside it; the crowd is clean only if every round was."""
    for key in CROWDS:
        runs = [((r[key]["signups_per_second"] or 0) / r["pgbench"]["tps"] if r.get("pgbench") else 0, r)
                for r in rounds if r.get(key)]
        if not runs:
            continue
        ordered = sorted(runs, key=lambda run: run[0])
        ratio, chosen = ordered[(len(ordered) - 1) // 2]
        c = dict(chosen[key])
        if chosen.get("pgbench"):
            c["reference_tps"] = chosen["pgbench"]["tps"]
        c["rounds"] = [{"signups_per_second": r[key]["signups_per_second"], "ratio_to_pgbench": round(x, 3),
                        "pgbench_tps": (r.get("pgbench") or {}).get("tps"), "check": r[key]["check"],
                        "statuses": r[key]["statuses"], "socket_errors": r[key]["socket_errors"]}
                       for x, r in runs]
        results[key] = c
        log(f"{key}: median ratio {ratio:.3f} of {[round(x, 3) for x, _ in runs]}")


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
    # What autovacuum would have done between runs (this machine's PostgreSQL runs
    # without it): earlier runs' dead rows out of the queue's index, so each run starts
    # from the same state, and the measurement does not slow down run after run.
    for table in ("notifications", "notice_deliveries", "subscription_quotas"):
        sql(f"VACUUM (ANALYZE) {table}")
    sql("""INSERT INTO subscription_quotas (user_id, template_id, balance, banned, updated_at)
           SELECT id, 'bench-tpl-reminder', 1, false, now() FROM users WHERE openid LIKE 'bench-u-%'
           ON CONFLICT (user_id, template_id) DO UPDATE SET balance = subscription_quotas.balance + 1""")
    with RssPeak(pid) as peak:
        t0 = time.time()
        # Queued as `notifications::insert` does: the inbox row and its delivery-queue row.
        sql("""WITH n AS (
                 INSERT INTO notifications (user_id, kind, title, body, activity_id, organization_id, dedupe_key,
                                            created_at, state, due_at, attempts, purpose, offset_secs)
                 SELECT u.id, 'reminder', '活动提醒', '您报名的活动明天开始。', a.id, a.organization_id,
                        'bench-reminder:' || u.id, now(), 'pending', now(), 0, 'reminder', 86400
                 FROM users u
                 JOIN LATERAL (SELECT id, organization_id FROM activities
                               WHERE community_id = u.home_community_id AND status = 'published'
                               ORDER BY starts_at LIMIT 1) a ON true
                 WHERE u.openid LIKE 'bench-u-%'
                 RETURNING id, due_at)
               INSERT INTO notice_deliveries (notification_id, due_at, attempts, quota_reserved)
               SELECT id, due_at, 0, false FROM n""")
        queued = time.time()
        cpu_before = cpu_seconds()
        # Watched through the fake's counter (polling the table would load the database).
        while json.loads(http_get(FAKE + "/__fake/stats"))["sends"] < fake_before + 100000:
            if time.time() - queued > 300:
                break
            time.sleep(0.05)
        done = time.time()
        for _ in range(100):  # the last chunk's outcomes being written
            if sql("SELECT count(*) FROM notifications WHERE dedupe_key LIKE 'bench-reminder:%' "
                   "AND state = 'pending'")[0][0] == "0":
                break
            time.sleep(0.1)
        cpu_after = cpu_seconds()
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
                           "rss_peak_mib": peak.mib,
                           # CPU microseconds per notice sent, each process's own (psql's
                           # queries of the count above are in PostgreSQL's).
                           "cpu_us_per_notice": {k: round((cpu_after[k] - cpu_before[k]) * 1e6 / max(sent, 1))
                                                 for k in cpu_after}}
    print(json.dumps(results["dispatch"]), flush=True)
    log("RSS after the dispatch, every second for a minute")
    samples = []
    for _ in range(61):
        samples.append(round(rss_kib(pid) / 1024, 1))
        time.sleep(1)
    under = next((i for i, m in enumerate(samples) if m <= 60), None)
    results["rss_after_dispatch"] = {"at_end_mib": samples[0], "after_60s_mib": samples[-1],
                                     "seconds_to_60_mib": under, "samples_mib": samples}
    print(json.dumps({k: v for k, v in results["rss_after_dispatch"].items() if k != "samples_mib"}), flush=True)


def replicas(tokens):
    """Two more replicas of the same binary on the same database and Redis: browse
    throughput with all three (one wrk per replica, side by side) against one, and a
    sign-up crowd split across the three (exactness across replicas)."""
    log("replicas: starting two more on the same PostgreSQL")
    procs, bases = [], [BASE]
    log_file = open(os.path.join(os.path.dirname(OUT), "server.log"), "a")
    for k in (1, 2):
        port = PORT + 100 * k
        env = dict(ENV, BIND=f"127.0.0.1:{port}")
        procs.append(subprocess.Popen([BIN, "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT))
        bases.append(f"http://127.0.0.1:{port}")
    for proc, base in zip(procs, bases[1:]):
        wait_ready(proc, base)
    streets = sql("SELECT id FROM regions WHERE code LIKE '620199___000' AND level = 'street' ORDER BY code")
    paths = [f"/api/v1/activities?region_id={s[0]}&limit=20" for s in streets]
    one = wrk("replicas_one", paths[0], paths=paths)

    def run(base, out):
        env = dict(ENV, BENCH_LABEL="replica", BENCH_PATHS=write_lines(paths), BENCH_TOKENS="")
        cmd = ["wrk", "-t1", f"-c{CONNS // 3}", f"-d{DURATION}s", "--timeout", "30s", "-s", WRK_SCRIPT,
               base + paths[0]]
        text = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        out.append(json.loads([line for line in text.splitlines() if line.startswith("{")][-1]))

    outs = []
    threads = [threading.Thread(target=run, args=(b, outs)) for b in bases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    three = sum(o["rps"] for o in outs)
    clean = all(set(o["statuses"]) == {"200"} and o["socket_errors"] == 0 for o in outs)
    log("replicas: 5,000 residents on one activity of 200 places, split across the three")
    ids = new_activities(1, 200, 32)
    crowd_outs = []

    def sign_up(base, part):
        plan = write_lines([f"POST /api/v1/activities/{ids[0]}/signups {t}" for t in part])
        text = subprocess.run([ENV["CROWD_BIN"], base, plan, str(CROWD_CONNS // 3)], check=True,
                              capture_output=True, text=True).stdout
        crowd_outs.append(dict(base=base, **json.loads(text.strip().splitlines()[-1])))
        print(json.dumps(crowd_outs[-1]), flush=True)

    crowd_tokens = tokens[:5000]
    threads = [threading.Thread(target=sign_up, args=(b, crowd_tokens[i::3])) for i, b in enumerate(bases)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    statuses = {}
    for o in crowd_outs:
        for k, v in o["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    count, span = sql(f"SELECT count(*), extract(epoch FROM max(created_at) - min(created_at)) FROM signups "
                      f"WHERE activity_id = {ids[0]}")[0]
    results["replicas"] = {"replicas": 3, "browse_one_rps": one["rps"], "browse_three_rps": round(three, 1),
                           "factor": round(three / one["rps"], 2), "browse_clean": clean,
                           "crowd_statuses": statuses,
                           "crowd_errors": sum(v for k, v in statuses.items() if k != "201")
                           + sum(o["socket_errors"] for o in crowd_outs),
                           "crowd_signups_per_second": round(int(count) / float(span), 1) if span and float(span) else None,
                           "crowd_check": check_crowd(ids, 200, 5000)}
    print(json.dumps(results["replicas"]), flush=True)


def sqlite_crowd():
    """The embedded default: a server on a fresh SQLite file, 5,000 residents on one
    activity of 200 places, against a plain SQLite write loop of the same transactions
    (Python's sqlite3, the server's pragmas: WAL, synchronous=NORMAL) as the ceiling."""
    import sqlite3
    log("SQLite: a fresh database with the demo, 5,000 residents, one activity of 200 places")
    workdir = tempfile.mkdtemp(prefix="linli-bench-sqlite-")
    path = os.path.join(workdir, "linli.db")
    port = PORT + 300
    env = {k: v for k, v in ENV.items() if k not in ("REDIS_URL",)}
    # Production refuses SQLite (it is the embedded default for one machine): dev mode,
    # with the same secret, the rate limit out of reach and pushes kept in the inbox.
    env.update(DATABASE_URL=f"sqlite://{path}?mode=rwc", BIND=f"127.0.0.1:{port}", APP_ENV="dev")
    subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([BIN, "seed-demo"], env=env, check=True, capture_output=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    starts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 40 * 86400))
    ends = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 40 * 86400 + 7200))
    community = db.execute("SELECT id FROM regions WHERE level = 'community' ORDER BY id LIMIT 1").fetchone()[0]
    db.execute("BEGIN")
    db.executemany("INSERT INTO users (openid, token_version, home_community_id, created_at, updated_at) "
                   "VALUES (?, 0, ?, ?, ?)", [(f"bench-sqlite-{i}", community, now, now) for i in range(5000)])
    db.execute("COMMIT")
    users = [r[0] for r in db.execute("SELECT id FROM users WHERE openid LIKE 'bench-sqlite-%' ORDER BY id")]
    org, org_community = db.execute("SELECT id, community_id FROM organizations WHERE status IN ('filed', 'registered') "
                                    "ORDER BY id LIMIT 1").fetchone()

    def activity(title):
        cur = db.execute(
            "INSERT INTO activities (organization_id, community_id, kind, title, description, location, starts_at, "
            "ends_at, signup_deadline, cancel_cutoff_minutes, capacity, waitlist_enabled, service_minutes, "
            "target_groups, status, confirmed_count, waitlist_count, signup_seq, version, published_at, created_at, "
            "updated_at) VALUES (?, ?, 'volunteer', ?, '基准测试数据', '社区活动室', ?, ?, ?, 120, 200, 1, 120, '', "
            "'published', 0, 0, 0, 1, ?, ?, ?)",
            (org, org_community, title, starts, ends, starts, now, now, now))
        return cur.lastrowid

    served = activity("抢报名 SQLite")
    log_file = open(os.path.join(os.path.dirname(OUT), "server.log"), "a")
    proc = subprocess.Popen([BIN, "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}")
        secret = ENV["JWT_SECRET"]
        plan = write_lines([f"POST /api/v1/activities/{served}/signups {mint(u, 0, secret)}" for u in users])
        text = subprocess.run([ENV["CROWD_BIN"], f"http://127.0.0.1:{port}", plan, str(CROWD_CONNS)], check=True,
                              capture_output=True, text=True).stdout
        out = json.loads(text.strip().splitlines()[-1])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    confirmed, waitlisted = db.execute(
        "SELECT sum(status = 'confirmed'), sum(status = 'waitlisted') FROM signups WHERE activity_id = ?",
        (served,)).fetchone()
    first, last = db.execute("SELECT min(created_at), max(created_at) FROM signups WHERE activity_id = ?",
                             (served,)).fetchone()
    # The ceiling: the same writes, one transaction per sign-up, from one connection.
    loop = activity("抢报名 SQLite 写入上限")
    t0 = time.perf_counter()
    for u in users:
        db.execute("BEGIN IMMEDIATE")
        row = db.execute("SELECT confirmed_count, capacity FROM activities WHERE id = ?", (loop,)).fetchone()
        status = "confirmed" if row[0] < row[1] else "waitlisted"
        column = "confirmed_count" if status == "confirmed" else "waitlist_count"
        db.execute(f"UPDATE activities SET {column} = {column} + 1, signup_seq = signup_seq + 1 WHERE id = ?", (loop,))
        db.execute("INSERT INTO signups (activity_id, user_id, status, seq, regular, created_at, updated_at) "
                   "VALUES (?, ?, ?, 0, 0, ?, ?)", (loop, u, status, now, now))
        if status == "confirmed":
            for k in range(3):
                db.execute("INSERT INTO notifications (user_id, kind, title, body, activity_id, dedupe_key, created_at, "
                           "state, due_at, attempts) VALUES (?, 'reminder', 't', 'b', ?, ?, ?, "
                           "'pending', ?, 0)", (u, loop, f"bench-sqlite:{loop}:{u}:{k}", now, now))
                db.execute("INSERT INTO notice_deliveries (notification_id, due_at, attempts, quota_reserved) "
                           "VALUES (last_insert_rowid(), ?, 0, 0)", (now,))
        db.execute("COMMIT")
    loop_s = time.perf_counter() - t0
    db.close()
    results["sqlite_crowd"] = {**out, "confirmed": confirmed, "waitlisted": waitlisted,
                               "signups_per_second": round(5000 / out["seconds"], 1) if out.get("seconds") else None,
                               "ceiling_per_second": round(5000 / loop_s, 1), "first_last": [first, last]}
    results["sqlite_crowd"]["ratio_to_ceiling"] = round(
        (results["sqlite_crowd"]["signups_per_second"] or 0) / results["sqlite_crowd"]["ceiling_per_second"], 3)
    print(json.dumps(results["sqlite_crowd"], ensure_ascii=False), flush=True)


def wait_ready(proc, base, seconds=60):
    """Waits for another server's /readyz; stops the run if it exits or never answers (a
    phase measured against a server that is not there would report transport errors)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server for {base} exited ({proc.returncode}); see bench/out/server.log")
        try:
            if http_get(base + "/readyz") is not None:
                return
        except OSError:
            time.sleep(0.01)
    sys.exit(f"the server for {base} did not become ready; see bench/out/server.log")


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
            goal = 0.6 if key.endswith("signed_in") else 0.5
            target(f"{key}: throughput / healthz", ratio, f">= {goal}", ratio >= goal and clean)
            target(f"{key}: p99 at {CONNS} connections", b["p99_ms"], "<= 20 ms", b["p99_ms"] <= 20)
        target("RSS peak under browse", r["rss_browse_peak_mib"], "<= 200 MiB", r["rss_browse_peak_mib"] <= 200)
    for key, expected in zip(CROWDS, (200, 2000)):
        if key not in r:
            continue
        c = r[key]
        if "pgbench" in r:
            ratio = round((c["signups_per_second"] or 0) / c.get("reference_tps", r["pgbench"]["tps"]), 3)
            c["ratio_to_pgbench"] = ratio
            of = f" (median of {len(c['rounds'])})" if "rounds" in c else ""
            target(f"{key}: sign-ups/s / pgbench tps{of}", ratio, ">= 0.7", ratio >= 0.7)
        errors, confirmed, exact = 0, set(), True
        for run in c.get("rounds", [c]):
            errors += sum(v for k, v in run["statuses"].items() if k != "201") + run["socket_errors"]
            confirmed.add(run["check"]["confirmed"])
            exact = exact and run["check"]["exactly_capacity_each"] and run["statuses"].get("201") == 5000
        shown = "/".join(map(str, sorted(confirmed)))
        target(f"{key}: confirmed, errors", f"{shown} confirmed, {errors} errors",
               f"exactly {expected}, zero errors", errors == 0 and exact and confirmed == {expected})
    if "street_metrics_year" in r:
        target("street metrics over a year: p95", r["street_metrics_year"]["p95_ms"], "<= 50 ms",
               r["street_metrics_year"]["p95_ms"] <= 50)
        target("district metrics over a year (1,000,000 rows): p95", r["district_metrics_year"]["p95_ms"],
               "<= 50 ms", r["district_metrics_year"]["p95_ms"] <= 50)
    if "dispatch" in r:
        d = r["dispatch"]
        target("reminders dispatched per second", d["per_second"], ">= 10000",
               (d["per_second"] or 0) >= 10000 and d["sent"] == 100000 and d["fake_received"] == 100000)
    if "rss_after_dispatch" in r:
        a = r["rss_after_dispatch"]
        target("RSS within a minute after 100,000 reminders", a["after_60s_mib"], "<= 60 MiB",
               a["seconds_to_60_mib"] is not None)
    if "replicas" in r:
        rep = r["replicas"]
        target("browse with 3 replicas / 1 replica", rep["factor"], "(reported)", rep["browse_clean"])
        c = rep["crowd_check"]
        target("sign-up crowd across 3 replicas: confirmed, errors",
               f"{c['confirmed']} confirmed, {rep['crowd_errors']} errors", "exactly 200, zero errors",
               c["exactly_capacity_each"] and c["confirmed"] == 200 and rep["crowd_errors"] == 0)
        if "pgbench" in r:
            ratio = round((rep["crowd_signups_per_second"] or 0) / r["pgbench"]["tps"], 3)
            target("sign-up crowd across 3 replicas: sign-ups/s / pgbench tps", ratio, ">= 0.7", ratio >= 0.7)
    if "sqlite_crowd" in r:
        q = r["sqlite_crowd"]
        target("SQLite: sign-ups/s / plain SQLite write loop", q["ratio_to_ceiling"],
               f"(reported; ceiling {q['ceiling_per_second']}/s)", q["confirmed"] == 200)
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
