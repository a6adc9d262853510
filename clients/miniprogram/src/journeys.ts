/**
 * The six journeys of the product brief (shared/PRODUCT.md, "The journeys that must work
 * end to end", 1–6), as calls through the typed client. Each returns what it saw, for the
 * Node test (test/journeys.test.ts) to assert; any unexpected problem throws `ApiError`.
 *
 * They run against dev mode: a login code is taken as the openid, and the demo data's
 * accounts exist (`demo-leader`, `demo-committee`, `demo-street`).
 */
import { LinliClient, must, type Schemas } from "./client";

/** Makes a client with a session of its own. */
export type Connect = () => LinliClient;

/** The demo data's places: 金塔巷社区 (a community), 张掖路街道 (its street), a point in it. */
export const DEMO = { community: 15, street: 6, lat: 36.0627, lng: 103.8221 } as const;

/** Where the journeys' activities take place (金塔巷社区活动室); a self check-in sends it. */
const ROOM = { latitude: DEMO.lat, longitude: DEMO.lng };

export async function signIn(connect: Connect, code: string): Promise<LinliClient> {
  const client = connect();
  must(await client.login(code));
  return client;
}

const HOUR = 3_600_000;

// The mini-program and Node both have it; tsconfig.json declares neither environment.
declare function setTimeout(handler: () => void, ms: number): unknown;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const iso = (ms: number) => new Date(ms).toISOString();

/** The organization the signed-in leader leads. */
export async function ledOrganization(leader: LinliClient): Promise<number> {
  const me = must(await leader.get("/api/v1/me"));
  const role = me.roles.find((r) => r.role === "org_leader");
  if (!role || role.scope_id === null) throw new Error("the leader leads no organization");
  return role.scope_id;
}

/** The leader posts and publishes an activity. */
export async function postActivity(
  leader: LinliClient,
  activity: Partial<Schemas["CreateActivityRequest"]> & { title: string; starts_at: string; ends_at: string },
): Promise<Schemas["ActivityResponse"]> {
  const org = await ledOrganization(leader);
  const created = must(
    await leader.post("/api/v1/organizations/{id}/activities", {
      path: { id: org },
      body: { kind: "volunteer", location: "金塔巷社区活动室", ...ROOM, capacity: 10, ...activity },
    }),
  );
  return must(await leader.post("/api/v1/activities/{id}/publish", { path: { id: created.id } }));
}

/** 1. A resident signs in, picks a home community, and sees what is nearby. */
export async function browseNearHome(connect: Connect, code: string) {
  const resident = await signIn(connect, code);
  const top = must(await resident.get("/api/v1/regions"));
  const community = must(await resident.get("/api/v1/regions/{id}", { path: { id: DEMO.community } }));
  const me = must(await resident.patch("/api/v1/me", { body: { home_community_id: community.id } }));
  const organizations = must(
    await resident.get("/api/v1/organizations", { query: { lat: DEMO.lat, lng: DEMO.lng, limit: 5 } }),
  );
  const activities = must(await resident.get("/api/v1/activities", { query: { region_id: DEMO.street } }));
  return { top: top.items, community, me, organizations: organizations.items, activities: activities.items };
}

/** 2. Limited places: confirmed or waitlisted; a cancellation promotes the first in line. */
export async function signUpWithWaitlist(connect: Connect, run: string) {
  const leader = await signIn(connect, "demo-leader");
  const start = Date.now() + 72 * HOUR;
  const activity = await postActivity(leader, {
    title: `楼道清扫 ${run}`,
    starts_at: iso(start),
    ends_at: iso(start + 2 * HOUR),
    capacity: 2,
  });
  const [a, b, c] = await Promise.all(["a", "b", "c"].map((who) => signIn(connect, `${run}-wait-${who}`)));
  if (!a || !b || !c) throw new Error("sign-in failed");
  const first = must(await a.post("/api/v1/activities/{id}/signups", { path: { id: activity.id } }));
  const second = must(await b.post("/api/v1/activities/{id}/signups", { path: { id: activity.id } }));
  const third = must(await c.post("/api/v1/activities/{id}/signups", { path: { id: activity.id } }));
  must(await a.delete("/api/v1/activities/{id}/signups/me", { path: { id: activity.id } }));
  const promoted = must(await c.get("/api/v1/activities/{id}", { path: { id: activity.id } }));
  const inbox = must(await c.get("/api/v1/me/notifications"));

  // A crowd presses the button at once: never more confirmed than places.
  const crowdActivity = await postActivity(leader, {
    title: `义诊排队 ${run}`,
    starts_at: iso(start),
    ends_at: iso(start + HOUR),
    capacity: 3,
  });
  const crowd = await Promise.all(
    Array.from({ length: 8 }, (_, i) => signIn(connect, `${run}-crowd-${i}`)),
  );
  const crowdSignups = await Promise.all(
    crowd.map(async (r) => must(await r.post("/api/v1/activities/{id}/signups", { path: { id: crowdActivity.id } }))),
  );
  return {
    signups: [first, second, third],
    promoted: promoted.my_signup,
    inboxKinds: inbox.items.map((n) => n.kind),
    crowdSignups,
  };
}

/**
 * 3. The resident reports `wx.requestSubscribeMessage`'s answer; notices reach the inbox:
 * the sign-up, a change of place, the reminder (due `reminderInMs` after posting, with
 * `REMINDER_OFFSETS` set to `offsetMs`), and a cancellation, `settleMs` after the reminder
 * (at least two `DISPATCH_INTERVAL`s, so it has been sent).
 */
export async function remindersAndChanges(
  connect: Connect,
  run: string,
  options: { template: string; offsetMs: number; reminderInMs: number; waitMs: number; settleMs: number },
) {
  const leader = await signIn(connect, "demo-leader");
  const resident = await signIn(connect, `${run}-remind`);
  const balances = must(
    await resident.post("/api/v1/me/subscriptions", { body: { results: { [options.template]: "accept" } } }),
  );
  const start = Date.now() + options.offsetMs + options.reminderInMs;
  const activity = await postActivity(leader, {
    title: `读书会 ${run}`,
    starts_at: iso(start),
    ends_at: iso(start + HOUR),
  });
  must(await resident.post("/api/v1/activities/{id}/signups", { path: { id: activity.id } }));
  must(await leader.patch("/api/v1/activities/{id}", { path: { id: activity.id }, body: { location: "金塔巷社区图书室" } }));
  const deadline = Date.now() + options.waitMs;
  let kinds: Schemas["NotificationKind"][] = [];
  while (Date.now() < deadline) {
    const inbox = must(await resident.get("/api/v1/me/notifications", { query: { limit: 50 } }));
    kinds = inbox.items.filter((n) => n.activity_id === activity.id).map((n) => n.kind);
    if (kinds.includes("reminder")) break;
    await sleep(500);
  }
  // A reminder shows once due; the dispatcher sends it on its next tick. Until then a
  // cancellation withdraws it with the activity's other unsent reminders.
  await sleep(options.settleMs);
  must(await leader.post("/api/v1/activities/{id}/cancel", { path: { id: activity.id }, body: { reason: "场地临时维修" } }));
  const after = must(await resident.get("/api/v1/me/notifications", { query: { limit: 50 } }));
  return {
    balances,
    kindsBeforeCancel: kinds,
    kinds: after.items.filter((n) => n.activity_id === activity.id).map((n) => n.kind),
  };
}

/**
 * 4. At the door: staff scan a resident's QR, another resident scans the activity's code,
 * and after the start the activity is closed: hours credited, no-shows marked.
 * `startsInMs` must be short: closing waits for the start.
 */
export async function checkInAndClose(connect: Connect, run: string, startsInMs: number) {
  const leader = await signIn(connect, "demo-leader");
  const start = Date.now() + startsInMs;
  const activity = await postActivity(leader, {
    title: `社区义剪 ${run}`,
    starts_at: iso(start),
    ends_at: iso(start + 2 * HOUR),
    capacity: 5,
  });
  const [present, scanner, absent] = await Promise.all(
    ["present", "scanner", "absent"].map((who) => signIn(connect, `${run}-door-${who}`)),
  );
  if (!present || !scanner || !absent) throw new Error("sign-in failed");
  for (const r of [present, scanner, absent]) {
    must(await r.post("/api/v1/activities/{id}/signups", { path: { id: activity.id } }));
  }
  const qr = must(await present.get("/api/v1/me/checkin-code"));
  const scanned = must(
    await leader.post("/api/v1/activities/{id}/attendance", {
      path: { id: activity.id },
      body: { checkin_code: qr.code, action: "check_in" },
    }),
  );
  const rescanned = must(
    await leader.post("/api/v1/activities/{id}/attendance", {
      path: { id: activity.id },
      body: { checkin_code: qr.code, action: "check_in" },
    }),
  );
  const code = must(await leader.get("/api/v1/activities/{id}/checkin-code", { path: { id: activity.id } }));
  must(
    await scanner.post("/api/v1/activities/{id}/attendance/self", {
      path: { id: activity.id },
      body: { code: code.code, action: "check_in", ...ROOM },
    }),
  );
  must(
    await scanner.post("/api/v1/activities/{id}/attendance/self", {
      path: { id: activity.id },
      body: { code: code.code, action: "check_out", ...ROOM },
    }),
  );
  await sleep(Math.max(0, start - Date.now() + 1000));
  const finished = must(await leader.post("/api/v1/activities/{id}/finish", { path: { id: activity.id } }));
  const roster = must(await leader.get("/api/v1/activities/{id}/signups", { path: { id: activity.id } }));
  const attendance = must(await leader.get("/api/v1/activities/{id}/attendance", { path: { id: activity.id } }));
  const participation = must(await present.get("/api/v1/me/participation"));
  const presentId = must(await present.get("/api/v1/me")).id;
  const absentId = must(await absent.get("/api/v1/me")).id;
  return { activity, scanned, rescanned, finished, roster: roster.items, attendance, participation, presentId, absentId };
}

/** 5. The committee's participation view and its Excel export; the street's side-by-side view. */
export async function participationView(connect: Connect) {
  const committee = await signIn(connect, "demo-committee");
  const community = must(await committee.get("/api/v1/regions/{id}/metrics", { path: { id: DEMO.community } }));
  const xlsx = must(
    await committee.download("/api/v1/regions/{id}/metrics/export", { path: { id: DEMO.community }, query: { format: "xlsx" } }),
  );
  const csv = must(
    await committee.download("/api/v1/regions/{id}/metrics/export", { path: { id: DEMO.community }, query: { format: "csv" } }),
  );
  const street = await signIn(connect, "demo-street");
  const streetView = must(await street.get("/api/v1/regions/{id}/metrics", { path: { id: DEMO.street } }));
  const forbidden = await committee.get("/api/v1/regions/{id}/metrics", { path: { id: DEMO.street } });
  return { community, xlsx, csv, street: streetView, forbidden };
}

/** 6. Filing (备案): apply, the committee consents, the street files; a refusal says why. */
export async function fileOrganization(connect: Connect, run: string) {
  const applicant = await signIn(connect, `${run}-organizer`);
  const committee = await signIn(connect, "demo-committee");
  const street = await signIn(connect, "demo-street");
  const name = `金塔巷棋牌互助组${run.slice(-6)}`;
  const applied = must(
    await applicant.post("/api/v1/organizations", {
      body: { name, category: "mutual_aid", community_id: DEMO.community, service_targets: ["elderly"] },
    }),
  );
  const consented = must(
    await committee.post("/api/v1/organizations/{id}/review", { path: { id: applied.id }, body: { decision: "approve" } }),
  );
  const filed = must(
    await street.post("/api/v1/organizations/{id}/review", {
      path: { id: applied.id },
      body: { decision: "approve", comment: "予以备案" },
    }),
  );
  const browse = must(await applicant.get("/api/v1/organizations", { query: { q: name } }));
  const other = must(
    await applicant.post("/api/v1/organizations", {
      body: { name: `${name}二队`, category: "culture_sports", community_id: DEMO.community },
    }),
  );
  const refused = must(
    await committee.post("/api/v1/organizations/{id}/review", {
      path: { id: other.id },
      body: { decision: "reject", comment: "与已有组织重复，请合并" },
    }),
  );
  const seenByApplicant = must(await applicant.get("/api/v1/organizations/{id}", { path: { id: other.id } }));
  return { applied, consented, filed, browse: browse.items, refused: seenByApplicant, refusedStatus: refused.status };
}
