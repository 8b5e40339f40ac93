// Full-text search over transcripts: PostgreSQL's websearch syntax, ranking, highlighting, paging, filters, the
// owner's sessions only, and a plan that can use the GIN index instead of scanning every message.
import { rowsOf } from "@mimic/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent, createPersona } from "../engine/fixtures.js";
import { createTestApp, expectError, type TestContext } from "../helpers.js";
import { as, BOT_URL, createOwner, getJson, insertMessages, newSession, type Owner } from "./fixtures.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" }, { engine: false });
});
afterAll(() => ctx.close());

interface Hit {
  id: string;
  sessionId: string;
  senderType: string;
  content: string;
  timestamp: string;
  rank: number;
  highlight: string;
}
interface SearchResult {
  query: string;
  results: Hit[];
  count: number;
}

const at = (iso: string) => new Date(iso);
const search = (owner: Owner, url: string) => getJson<SearchResult>(ctx.app, owner.user, url);
const contents = (r: SearchResult) => r.results.map((h) => h.content);
const q = encodeURIComponent;

describe("ranking", () => {
  let owner: Owner;
  let sessionId: string;
  beforeAll(async () => {
    owner = await createOwner(ctx.app);
    sessionId = (await newSession(ctx.app, owner)).id;
    await insertMessages(ctx, sessionId, [
      // Both terms, far apart.
      {
        senderType: "agent",
        content:
          "The refund was approved last week, and someone from billing will contact you about the order",
        timestamp: at("2024-07-01T10:00:00Z"),
      },
      // Only one of the terms.
      { senderType: "persona", content: "I would like a refund", timestamp: at("2024-07-01T10:00:01Z") },
      // Both terms, close together.
      {
        senderType: "persona",
        content: "Can I get a refund on this order?",
        timestamp: at("2024-07-01T10:00:02Z"),
      },
      // Both terms, adjacent: the densest cover.
      { senderType: "persona", content: "Refund order 1234 please", timestamp: at("2024-07-01T10:00:03Z") },
      { senderType: "agent", content: "Your parcel ships tomorrow", timestamp: at("2024-07-01T10:00:04Z") },
    ]);
  });

  it("requires every word, and ranks denser matches first (ts_rank_cd)", async () => {
    const result = await search(owner, `/api/sessions/${sessionId}/search?q=refund%20order`);
    expect(result.query).toBe("refund order");
    expect(contents(result)).toEqual([
      "Refund order 1234 please",
      "Can I get a refund on this order?",
      "The refund was approved last week, and someone from billing will contact you about the order",
    ]);
    expect(result.count).toBe(3);
    const ranks = result.results.map((h) => h.rank);
    expect(ranks[0]).toBeGreaterThan(ranks[1]!);
    expect(ranks[1]).toBeGreaterThan(ranks[2]!);
    expect(result.results.every((h) => h.sessionId === sessionId)).toBe(true);
  });

  it("with `or`, a message matching more of the terms ranks above one matching fewer", async () => {
    const result = await search(owner, `/api/sessions/${sessionId}/search?q=${q("refund or parcel")}`);
    // Four messages say "refund"; "Your parcel ships tomorrow" says "parcel".
    expect(result.count).toBe(5);
    const both = await search(owner, `/api/sessions/${sessionId}/search?q=${q("refund or order")}`);
    // The three messages holding both words come before "I would like a refund", which holds one.
    expect(both.count).toBe(4);
    expect(contents(both).at(-1)).toBe("I would like a refund");
    expect(both.results[2]!.rank).toBeGreaterThan(both.results[3]!.rank);
  });

  it("stems English words: `refunds` finds `refund`", async () => {
    const result = await search(owner, `/api/sessions/${sessionId}/search?q=refunds`);
    expect(result.count).toBe(4);
  });

  it("finds words inside <angle brackets> (bot templates), which the parser would take for HTML tags", async () => {
    const s = await newSession(ctx.app, owner);
    await insertMessages(ctx, s.id, [
      {
        senderType: "agent",
        content: "Please send your <order number> and the <invoice> link",
        timestamp: at("2024-01-01T00:00:00Z"),
      },
    ]);
    const result = await search(owner, `/api/sessions/${s.id}/search?q=invoice`);
    expect(result.count).toBe(1);
    expect(result.results[0]!.highlight).toBe(
      "Please send your &lt;order number&gt; and the &lt;<mark>invoice</mark>&gt; link",
    );
  });
});

describe("websearch syntax", () => {
  let owner: Owner;
  let sessionId: string;
  beforeAll(async () => {
    owner = await createOwner(ctx.app);
    sessionId = (await newSession(ctx.app, owner)).id;
    await insertMessages(ctx, sessionId, [
      {
        senderType: "persona",
        content: "Where is my refund for the order?",
        timestamp: at("2024-07-01T10:00:00Z"),
      },
      {
        senderType: "agent",
        content: "Your order refund is on its way",
        timestamp: at("2024-07-01T10:00:01Z"),
      },
      { senderType: "persona", content: "The refund never arrived", timestamp: at("2024-07-01T10:00:02Z") },
    ]);
  });

  it('matches a "quoted phrase" only with its words adjacent and in order', async () => {
    const result = await search(owner, `/api/sessions/${sessionId}/search?q=${q('"order refund"')}`);
    expect(contents(result)).toEqual(["Your order refund is on its way"]);
    expect(result.results[0]!.highlight).toContain("<mark>order</mark> <mark>refund</mark>");
  });

  it("excludes a -word", async () => {
    const result = await search(owner, `/api/sessions/${sessionId}/search?q=${q("refund -order")}`);
    expect(contents(result)).toEqual(["The refund never arrived"]);
  });

  it("answers 200 with no results for a query of stop words or punctuation, never a 500", async () => {
    for (const text of ["the", '" - or', "refund & | ! :* (", "'; drop table messages; --"]) {
      const res = await as(ctx.app, owner.user).get(`/api/sessions/${sessionId}/search?q=${q(text)}`);
      expect(res.statusCode, `${text}: ${res.body}`).toBe(200);
      if (text !== "refund & | ! :* (") expect(res.json().count, text).toBe(0);
    }
    // "refund & | ! :* (" is the word refund: the operators are taken as text, not tsquery syntax.
    const punct = await search(owner, `/api/sessions/${sessionId}/search?q=${q("refund & | ! :* (")}`);
    expect(punct.count).toBe(3);
  });

  it("rejects an empty, missing or over-long q (422)", async () => {
    for (const url of [
      `/api/sessions/${sessionId}/search?q=`,
      `/api/sessions/${sessionId}/search`,
      `/api/search?q=`,
      `/api/search`,
      `/api/search?q=${"a".repeat(201)}`,
    ]) {
      const error = expectError(await as(ctx.app, owner.user).get(url), 422, "VALIDATION_ERROR");
      expect(error.details?.map((d) => d.field)).toEqual(["q"]);
    }
  });
});

describe("highlighting", () => {
  it("wraps matches in <mark> and HTML-escapes the content around them", async () => {
    const owner = await createOwner(ctx.app);
    const s = await newSession(ctx.app, owner);
    await insertMessages(ctx, s.id, [
      {
        senderType: "persona",
        content: `<script>alert("refund")</script> Please refund me & <b>now</b>`,
        timestamp: at("2024-07-01T10:00:00Z"),
      },
    ]);
    const result = await search(owner, `/api/sessions/${s.id}/search?q=refund`);
    const hit = result.results[0]!;
    // The stored content is returned as written; only the highlight is HTML.
    expect(hit.content).toBe(`<script>alert("refund")</script> Please refund me & <b>now</b>`);
    expect(hit.highlight).toBe(
      `&lt;script&gt;alert("<mark>refund</mark>")&lt;/script&gt; Please <mark>refund</mark> me &amp; &lt;b&gt;now&lt;/b&gt;`,
    );
    // The only markup left is Mimic's own.
    expect(hit.highlight.replace(/<\/?mark>/g, "")).not.toMatch(/[<>]/);
  });

  it("highlights a short message whole, even around escaped characters", async () => {
    const owner = await createOwner(ctx.app);
    const s = await newSession(ctx.app, owner);
    await insertMessages(ctx, s.id, [
      {
        senderType: "persona",
        content: "Hello <there>, please refund me by Friday",
        timestamp: at("2024-07-01T10:00:00Z"),
      },
    ]);
    const hit = (await search(owner, `/api/sessions/${s.id}/search?q=refund`)).results[0]!;
    expect(hit.highlight).toBe("Hello &lt;there&gt;, please <mark>refund</mark> me by Friday");
  });

  it("highlights a stemmed match and keeps a long message to an excerpt", async () => {
    const owner = await createOwner(ctx.app);
    const s = await newSession(ctx.app, owner);
    const filler = Array.from({ length: 120 }, (_, i) => `word${i}`).join(" ");
    await insertMessages(ctx, s.id, [
      {
        senderType: "agent",
        content: `${filler} <b>Refunds</b> are processed daily & quickly. ${filler}`,
        timestamp: at("2024-07-01T10:00:00Z"),
      },
    ]);
    const hit = (await search(owner, `/api/sessions/${s.id}/search?q=refund`)).results[0]!;
    expect(hit.highlight).toContain("<mark>Refunds</mark>");
    expect(hit.highlight).toContain("&amp; quickly");
    expect(hit.highlight.replace(/<\/?mark>/g, "")).not.toMatch(/[<>]/);
    // An excerpt around the match, not the 240 filler words.
    expect(hit.highlight.split(/\s+/).length).toBeLessThanOrEqual(40);
  });
});

describe("paging", () => {
  it("counts every match over all pages, and pages do not overlap", async () => {
    const owner = await createOwner(ctx.app);
    const s = await newSession(ctx.app, owner);
    await insertMessages(
      ctx,
      s.id,
      Array.from({ length: 25 }, (_, i) => ({
        senderType: "agent" as const,
        content: `Status update number ${i}`,
        // Pairs share a timestamp: ties are broken by insertion order.
        timestamp: at(`2024-07-01T10:00:${String(Math.floor(i / 2)).padStart(2, "0")}Z`),
      })),
    );
    await insertMessages(ctx, s.id, [
      { senderType: "persona", content: "No match here", timestamp: at("2024-07-01T09:00:00Z") },
    ]);
    const seen: string[] = [];
    for (const [page, size] of [
      [1, 10],
      [2, 10],
      [3, 5],
      [4, 0],
    ] as const) {
      const result = await search(owner, `/api/sessions/${s.id}/search?q=status&limit=10&page=${page}`);
      expect(result.count, `page ${page}`).toBe(25);
      expect(result.results).toHaveLength(size);
      seen.push(...contents(result));
    }
    // Equal ranks: oldest first, then insertion order — the order the transcript was written in.
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `Status update number ${i}`));
  });
});

describe("GET /api/search (across sessions)", () => {
  let alice: Owner;
  let bob: Owner;
  let agent2: { id: string };
  let persona2: { id: string };
  let s1: string;
  let s2: string;
  let bobSession: string;
  beforeAll(async () => {
    alice = await createOwner(ctx.app);
    agent2 = await createAgent(ctx.app, alice.user, { webhook_url: BOT_URL });
    persona2 = await createPersona(ctx.app, alice.user, { name: "Angry customer" });
    s1 = (await newSession(ctx.app, alice)).id;
    s2 = (
      await newSession(ctx.app, {
        ...alice,
        agent: agent2,
        persona: { id: persona2.id, name: "Angry customer" },
      })
    ).id;
    await insertMessages(ctx, s1, [
      { senderType: "persona", content: "alice refund one", timestamp: at("2024-07-01T10:00:00Z") },
      { senderType: "agent", content: "alice refund two", timestamp: at("2024-07-05T10:00:00Z") },
    ]);
    await insertMessages(ctx, s2, [
      { senderType: "persona", content: "alice refund three", timestamp: at("2024-07-10T10:00:00Z") },
      { senderType: "agent", content: "alice refund four", timestamp: at("2024-07-10T10:00:00.001Z") },
    ]);
    bob = await createOwner(ctx.app);
    bobSession = (await newSession(ctx.app, bob)).id;
    await insertMessages(ctx, bobSession, [
      { senderType: "persona", content: "bob refund secret", timestamp: at("2024-07-05T10:00:00Z") },
    ]);
  });

  it("searches every session of the caller, and only the caller's", async () => {
    const mine = await search(alice, "/api/search?q=refund");
    expect(contents(mine).sort()).toEqual([
      "alice refund four",
      "alice refund one",
      "alice refund three",
      "alice refund two",
    ]);
    expect(mine.count).toBe(4);
    const theirs = await search(bob, "/api/search?q=refund");
    expect(contents(theirs)).toEqual(["bob refund secret"]);
    expect((await search(bob, "/api/search?q=alice")).count).toBe(0);
    expect((await search(alice, "/api/search?q=secret")).count).toBe(0);
  });

  it("answers 404 when searching another user's session by its id", async () => {
    const error = expectError(
      await as(ctx.app, bob.user).get(`/api/sessions/${s1}/search?q=refund`),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expect(JSON.stringify(error)).not.toContain("alice");
    expectError(
      await as(ctx.app, alice.user).get(`/api/sessions/${bobSession}/search?q=secret`),
      404,
      "RESOURCE_NOT_FOUND",
    );
  });

  it("filters by agentId and personaId (another user's ids or malformed ids match nothing)", async () => {
    const byAgent = await search(alice, `/api/search?q=refund&agentId=${agent2.id}`);
    expect(contents(byAgent).sort()).toEqual(["alice refund four", "alice refund three"]);
    expect(byAgent.results.every((h) => h.sessionId === s2)).toBe(true);
    const byPersona = await search(alice, `/api/search?q=refund&personaId=${alice.persona.id}`);
    expect(contents(byPersona).sort()).toEqual(["alice refund one", "alice refund two"]);
    const both = await search(
      alice,
      `/api/search?q=refund&agentId=${agent2.id}&personaId=${alice.persona.id}`,
    );
    expect(both.count).toBe(0);
    expect((await search(bob, `/api/search?q=refund&agentId=${agent2.id}`)).count).toBe(0);
    expect((await search(alice, "/api/search?q=refund&agentId=test-agent")).count).toBe(0);
  });

  it("filters by time: from is inclusive, to is exclusive", async () => {
    const window = await search(
      alice,
      `/api/search?q=refund&from=${q("2024-07-05T10:00:00Z")}&to=${q("2024-07-10T10:00:00.001Z")}`,
    );
    expect(contents(window).sort()).toEqual(["alice refund three", "alice refund two"]);
    const after = await search(alice, `/api/search?q=refund&from=${q("2024-07-10T10:00:00.001Z")}`);
    expect(contents(after)).toEqual(["alice refund four"]);
    const before = await search(alice, `/api/search?q=refund&to=${q("2024-07-05T10:00:00Z")}`);
    expect(contents(before)).toEqual(["alice refund one"]);
    // Bounds keep their microseconds: "four" was said at 10:00:00.001000.
    const micro = (iso: string) => search(alice, `/api/search?q=four&from=${q(iso)}`);
    expect((await micro("2024-07-10T10:00:00.000999Z")).count).toBe(1);
    expect((await micro("2024-07-10T10:00:00.001001Z")).count).toBe(0);
    expect((await search(alice, `/api/search?q=four&to=${q("2024-07-10T10:00:00.001001Z")}`)).count).toBe(1);
    expectError(
      await as(ctx.app, alice.user).get("/api/search?q=refund&from=yesterday"),
      422,
      "VALIDATION_ERROR",
    );
  });

  it("returns the hit's shape", async () => {
    const hit = (await search(alice, "/api/search?q=one")).results[0]!;
    expect(hit).toEqual({
      id: expect.any(String),
      sessionId: s1,
      senderType: "persona",
      content: "alice refund one",
      timestamp: "2024-07-01T10:00:00.000Z",
      rank: expect.any(Number),
      highlight: "alice refund <mark>one</mark>",
    });
  });
});

describe("the index", () => {
  it("answers the search predicate from the GIN index messages_search_idx, not a scan", async () => {
    const plan = await ctx.db.db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      return rowsOf<Record<string, string>>(
        await tx.execute(
          sql`explain select id from messages where search @@ websearch_to_tsquery('english', 'refund')`,
        ),
      )
        .map((row) => Object.values(row)[0])
        .join("\n");
    });
    expect(plan).toContain("messages_search_idx");
    expect(plan).not.toMatch(/Seq Scan on messages/);
  });
});
