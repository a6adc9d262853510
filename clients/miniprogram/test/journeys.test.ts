/**
 * The journeys (src/journeys.ts) against the real server: the built `linli` binary in dev
 * mode on a free port, a fresh SQLite database with the demo data. Node's `fetch` is the
 * transport; one test drives `wxFetch` through a stand-in `wx.request` built on it.
 *
 * `LINLI_BIN` names the binary (default: `$CARGO_TARGET_DIR/debug/linli`, else
 * `target/debug/linli` at the repository's root).
 */
import { after, before, test } from "node:test";
import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

import { LinliClient, memoryTokens, must, wxFetch, type WxLike } from "../src/index";
import * as journeys from "../src/journeys";

const JWT_SECRET = "journeys-secret-journeys-secret-journeys";
const REMINDER_OFFSET_MS = 24 * 3_600_000;
const root = resolve(__dirname, "../../../..");
const binary =
  process.env.LINLI_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug", "linli");

let server: ChildProcess | undefined;
let baseUrl = "";
let dataDir = "";
const run = `j${Date.now().toString(36)}`;
const connect = () => new LinliClient({ baseUrl, fetch });

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "linli-journeys-"));
  server = spawn(binary, ["serve"], {
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: `sqlite://${dataDir}/journeys.db?mode=rwc`,
      SEED_DEMO: "true",
      BIND: "127.0.0.1:0",
      LOG_FORMAT: "json",
      RUST_LOG: "info",
      JWT_SECRET,
      WECHAT_TEMPLATE_REMINDER: "tpl-reminder",
      WECHAT_TEMPLATE_SIGNUP: "tpl-signup",
      WECHAT_TEMPLATE_CHANGE: "tpl-change",
      REMINDER_OFFSETS: "1d",
      DISPATCH_INTERVAL: "1s",
      RATE_LIMIT_PER_MINUTE: "0",
      LOGIN_RATE_LIMIT_PER_MINUTE: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not say where it listens")), 30_000);
    server?.once("error", (e) => reject(new Error(`cannot start ${binary}: ${e.message} (build it, or set LINLI_BIN)`)));
    server?.once("exit", (code) => reject(new Error(`the server exited (${code})`)));
    for (const stream of [server?.stdout, server?.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (line) => {
        try {
          const entry = JSON.parse(line) as { fields?: { message?: string; port?: number } };
          if (entry.fields?.message === "Linli is listening" && entry.fields.port) {
            clearTimeout(timer);
            resolvePort(entry.fields.port);
          }
        } catch {
          // not a log line
        }
      });
    }
  });
  baseUrl = `http://127.0.0.1:${port}`;
});

after(() => {
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("1. a resident signs in, picks a home community and sees what is nearby", async () => {
  const seen = await journeys.browseNearHome(connect, `${run}-home`);
  assert.equal(seen.top[0]?.level, "province");
  assert.equal(seen.community.level, "community");
  assert.equal(seen.me.home_community_id, journeys.DEMO.community);
  assert.ok(seen.organizations.length > 0);
  const distances = seen.organizations.map((o) => o.distance_m ?? Infinity);
  assert.deepEqual(distances, [...distances].sort((a, b) => a - b), "nearest first");
  assert.ok(seen.activities.length > 0);
  assert.ok(seen.activities.every((a) => Date.parse(a.ends_at) > Date.now()), "upcoming only");
});

test("2. limited places: confirmed, waitlisted, promoted on a cancellation; a crowd never overbooks", async () => {
  const seen = await journeys.signUpWithWaitlist(connect, run);
  assert.deepEqual(
    seen.signups.map((s) => [s.status, s.waitlist_position]),
    [
      ["confirmed", null],
      ["confirmed", null],
      ["waitlisted", 1],
    ],
  );
  assert.equal(seen.promoted?.status, "confirmed");
  assert.ok(seen.inboxKinds.includes("waitlist_promoted"));
  const confirmed = seen.crowdSignups.filter((s) => s.status === "confirmed");
  const waitlisted = seen.crowdSignups.filter((s) => s.status === "waitlisted");
  assert.equal(confirmed.length, 3);
  assert.deepEqual(waitlisted.map((s) => s.waitlist_position).sort(), [1, 2, 3, 4, 5]);
});

test("3. subscribe consent is kept; sign-up, change, reminder and cancellation reach the inbox", async () => {
  const seen = await journeys.remindersAndChanges(connect, run, {
    template: "tpl-reminder",
    offsetMs: REMINDER_OFFSET_MS,
    reminderInMs: 8_000,
    waitMs: 25_000,
    settleMs: 2_500,
  });
  assert.equal(seen.balances.find((b) => b.purpose === "reminder")?.balance, 1);
  assert.ok(seen.kindsBeforeCancel.includes("reminder"), `no reminder: ${seen.kindsBeforeCancel.join(", ")}`);
  for (const kind of ["signup_confirmed", "activity_changed", "reminder", "activity_cancelled"] as const) {
    assert.equal(seen.kinds.filter((k) => k === kind).length, 1, `${kind} once in ${seen.kinds.join(", ")}`);
  }
});

test("4. check-in at the door and closing: hours credited, no-shows marked", async () => {
  const seen = await journeys.checkInAndClose(connect, run, 6_000);
  assert.equal(seen.scanned.changed, true);
  assert.equal(seen.rescanned.changed, false, "a second scan changes nothing");
  const status = (id: number) => seen.roster.find((r) => r.user_id === id)?.status;
  assert.equal(status(seen.presentId), "attended");
  assert.equal(status(seen.absentId), "no_show");
  assert.equal(seen.finished.no_shows, 1);
  const credited = seen.attendance.find((a) => a.user_id === seen.presentId)?.credited_hours ?? 0;
  assert.ok(credited > 0, "hours credited to the one present");
  assert.ok(seen.participation.all_time.hours >= credited);
});

test("5. the committee's participation view and export; the street sees its communities", async () => {
  const seen = await journeys.participationView(connect);
  assert.equal(seen.community.region.id, journeys.DEMO.community);
  assert.equal(seen.community.communities[0]?.target, 10);
  assert.ok(seen.community.activities_held >= 1, "the activity closed in journey 4 counts");
  assert.equal(Buffer.from(seen.xlsx).subarray(0, 2).toString("latin1"), "PK", "an xlsx (zip) file");
  assert.equal(Buffer.from(seen.csv).subarray(0, 3).toString("hex"), "efbbbf", "UTF-8 CSV with a BOM");
  assert.ok(seen.street.communities.length >= 2, "communities side by side");
  assert.equal(seen.forbidden.ok, false);
  assert.equal(!seen.forbidden.ok && seen.forbidden.problem.code, "forbidden");
});

test("6. filing: the committee consents, the street files, it appears in browse; a refusal says why", async () => {
  const seen = await journeys.fileOrganization(connect, run);
  assert.equal(seen.applied.status, "pending_consent");
  assert.equal(seen.consented.status, "pending_filing");
  assert.equal(seen.filed.status, "filed");
  assert.deepEqual(
    seen.filed.history?.map((e) => [e.action, e.actor_id !== null]),
    [
      ["submitted", true],
      ["consented", true],
      ["filed", true],
    ],
  );
  assert.equal(seen.filed.history?.[2]?.comment, "予以备案");
  assert.ok(seen.browse.some((o) => o.id === seen.filed.id));
  assert.equal(seen.refused.status, "rejected");
  assert.equal(seen.refused.history?.at(-1)?.comment, "与已有组织重复，请合并");
});

test("problems are typed values, in the caller's language", async () => {
  const anonymous = new LinliClient({ baseUrl, fetch, language: "en" });
  const result = await anonymous.get("/api/v1/me");
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.status, 401);
  assert.equal(result.problem.code, "unauthenticated");
  assert.match(result.problem.detail, /[A-Za-z]/);
  const missing = await anonymous.get("/api/v1/regions/{id}", { path: { id: 987654321 } });
  assert.equal(!missing.ok && missing.problem.code, "not_found");
});

test("an expired access token is refreshed once for concurrent requests", async () => {
  const tokens = memoryTokens();
  let refreshes = 0;
  const counting: typeof fetch = (input, init) => {
    if (String(input).endsWith("/api/v1/auth/refresh")) refreshes += 1;
    return fetch(input, init);
  };
  const client = new LinliClient({ baseUrl, fetch: counting, tokens });
  must(await client.login(`${run}-refresh`));
  const signedIn = tokens.get();
  assert.ok(signedIn);
  tokens.set({ ...signedIn, access_token: expired(signedIn.access_token) });
  const answers = await Promise.all(Array.from({ length: 5 }, () => client.get("/api/v1/me")));
  assert.ok(answers.every((a) => a.ok), "every request retried with the new token");
  assert.equal(refreshes, 1, "one refresh for five expired requests");
  assert.notEqual(tokens.get()?.refresh_token, signedIn.refresh_token, "the refresh token rotated");
});

test("wxFetch: the mini-program's transport over wx.request", async () => {
  const storage = new Map<string, unknown>();
  const fakeWx: WxLike = {
    request(options) {
      fetch(options.url, { method: options.method, headers: options.header, body: options.data })
        .then(async (res) => {
          const header: Record<string, string> = {};
          res.headers.forEach((value, name) => {
            header[name.replace(/^./, (c) => c.toUpperCase())] = value;
          });
          options.success({ statusCode: res.status, header, data: await res.arrayBuffer() });
        })
        .catch((e: unknown) => options.fail({ errMsg: `request:fail ${String(e)}` }));
      return {};
    },
    getStorageSync: (key) => storage.get(key) ?? "",
    setStorageSync: (key, value) => void storage.set(key, value),
    removeStorageSync: (key) => void storage.delete(key),
  };
  const { wxStorageTokens } = await import("../src/wx");
  const client = new LinliClient({ baseUrl, fetch: wxFetch({ wx: fakeWx }), tokens: wxStorageTokens("t", fakeWx) });
  must(await client.login(`${run}-wx`));
  assert.ok(storage.has("t"), "tokens kept in wx storage");
  const region = must(await client.get("/api/v1/regions/{id}", { path: { id: journeys.DEMO.community } }));
  assert.equal(region.name, "金塔巷社区居委会", "UTF-8 decoded without TextDecoder");
  const problem = await client.get("/api/v1/activities/{id}", { path: { id: 987654321 } });
  assert.equal(!problem.ok && problem.problem.code, "not_found");
});

/** The same token, expired an hour ago, signed with the server's secret. */
function expired(token: string): string {
  const [header, payload] = token.split(".");
  assert.ok(header && payload);
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { exp: number; iat: number };
  const now = Math.floor(Date.now() / 1000);
  const body = Buffer.from(JSON.stringify({ ...claims, iat: now - 7200, exp: now - 3600 })).toString("base64url");
  const signature = createHmac("sha256", JWT_SECRET).update(`${header}.${body}`).digest("base64url");
  return `${header}.${body}.${signature}`;
}
