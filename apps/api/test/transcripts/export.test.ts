// Downloads of a transcript: JSON, JSON Lines and Markdown, each parsed back; the attachment headers; and long
// transcripts read in keyset batches of 500 without losing, repeating or reordering a message.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, registerUser, type TestContext } from "../helpers.js";
import {
  as,
  createOwner,
  getJson,
  insertMessages,
  type MessageRow,
  newSession,
  type Owner,
} from "./fixtures.js";

let ctx: TestContext;
let owner: Owner;
beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" }, { engine: false });
  owner = await createOwner(ctx.app);
});
afterAll(() => ctx.close());

interface ExportedMessage {
  id: string;
  sessionId: string;
  senderType: string;
  content: string;
  timestamp: string;
  latencyMs: number | null;
}

const download = (sessionId: string, format?: string) =>
  as(ctx.app, owner.user).get(`/api/sessions/${sessionId}/export${format ? `?format=${format}` : ""}`);

/**
 * The whole download, read as a stream with a size cap: an export that never ends fails here instead of filling
 * memory until the test times out.
 */
async function downloadCapped(sessionId: string, format: string, maxBytes: number): Promise<string> {
  const res = await ctx.app.inject({
    method: "GET",
    url: `/api/sessions/${sessionId}/export?format=${format}`,
    headers: owner.user.headers,
    payloadAsStream: true,
  });
  expect(res.statusCode).toBe(200);
  const stream = res.stream();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(Buffer.from(chunk));
    size += chunk.length;
    if (size > maxBytes) {
      stream.destroy();
      throw new Error(`the ${format} export did not end within ${maxBytes} bytes`);
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function transcript(sessionId: string): Promise<ExportedMessage[]> {
  const out: ExportedMessage[] = [];
  for (let page = 1; ; page++) {
    const body = await getJson<{ data: ExportedMessage[]; pagination: { pages: number } }>(
      ctx.app,
      owner.user,
      `/api/sessions/${sessionId}/messages?limit=100&page=${page}`,
    );
    out.push(...body.data);
    if (page >= body.pagination.pages) return out;
  }
}

const parseJsonl = (body: string) => {
  expect(body.endsWith("\n")).toBe(true);
  return body
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
};

const HEADING = /^### (\d+)\. (Persona|Agent|System) · (\S+?)(?: · (\d+) ms)?$/;
const headings = (markdown: string) =>
  markdown
    .split("\n")
    .map((line) => HEADING.exec(line))
    .filter((m) => m !== null);

describe("formats", () => {
  let sessionId: string;
  let createdAt: string;
  const at = (s: number) => new Date(Date.UTC(2024, 6, 1, 10, 0, s));
  const rows: (MessageRow & { timestamp: Date })[] = [
    { senderType: "persona", content: "Hi, my parcel is late.", timestamp: at(0) },
    {
      senderType: "agent",
      content: "Sorry to hear that!\nLet me check.\n\nOne moment…",
      timestamp: at(2),
      latencyMs: 1850,
    },
    { senderType: "system", content: "No reply within 30 s", timestamp: at(40) },
    // Markdown in content must stay inside its quote: no forged headings.
    { senderType: "persona", content: "# Not a title\n### 9. Agent · fake", timestamp: at(41) },
    {
      senderType: "agent",
      content: `<script>alert("x")</script> "quoted" \\ ünïcødé 🚚`,
      timestamp: at(42),
      latencyMs: 950,
    },
  ];
  beforeAll(async () => {
    const s = await newSession(ctx.app, owner, { metadata: { ticket: "QA-7" } });
    sessionId = s.id;
    createdAt = (s as unknown as { createdAt: string }).createdAt;
    await insertMessages(ctx, sessionId, rows);
  });

  it("json: one document with the session and every message, as the API shows them", async () => {
    const res = await download(sessionId, "json");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(res.headers["content-disposition"]).toBe(
      `attachment; filename="mimic-session-${createdAt.slice(0, 10)}-${sessionId.slice(0, 8)}.json"`,
    );
    const body = JSON.parse(res.body);
    expect(body.session).toMatchObject({
      id: sessionId,
      status: "pending",
      reason: null,
      persona: { id: owner.persona.id, name: "Late parcel" },
      agent: { id: owner.agent.id, name: "Bot under test", type: "webhook" },
      metadata: { ticket: "QA-7" },
      result: null,
      startedAt: null,
      endedAt: null,
      createdAt,
    });
    expect(body.messages).toEqual(await transcript(sessionId));
    expect(body.messages.map((m: ExportedMessage) => m.content)).toEqual(rows.map((r) => r.content));
  });

  it("is json by default", async () => {
    const res = await download(sessionId);
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(res.headers["content-disposition"]).toMatch(/\.json"$/);
    expect(JSON.parse(res.body).messages).toHaveLength(rows.length);
  });

  it("jsonl: a session line, then one line per message, each valid JSON", async () => {
    const res = await download(sessionId, "jsonl");
    expect(res.headers["content-type"]).toBe("application/x-ndjson; charset=utf-8");
    expect(res.headers["content-disposition"]).toBe(
      `attachment; filename="mimic-session-${createdAt.slice(0, 10)}-${sessionId.slice(0, 8)}.jsonl"`,
    );
    const [first, ...rest] = parseJsonl(res.body);
    expect(first).toMatchObject({ type: "session", id: sessionId, persona: { name: "Late parcel" } });
    expect(rest.map((line) => line.type)).toEqual(rest.map(() => "message"));
    expect(rest.map(({ type: _type, ...m }) => m)).toEqual(await transcript(sessionId));
  });

  it("markdown: a title, one numbered section per message, content quoted", async () => {
    const res = await download(sessionId, "markdown");
    expect(res.headers["content-type"]).toBe("text/markdown; charset=utf-8");
    expect(res.headers["content-disposition"]).toBe(
      `attachment; filename="mimic-session-${createdAt.slice(0, 10)}-${sessionId.slice(0, 8)}.md"`,
    );
    const md = res.body;
    expect(md.split("\n")[0]).toBe("# Late parcel × Bot under test");
    const sections = headings(md);
    expect(sections.map((m) => [Number(m[1]), m[2], m[3], m[4] ? Number(m[4]) : null])).toEqual(
      rows.map((r, i) => [
        i + 1,
        { persona: "Persona", agent: "Agent", system: "System" }[r.senderType],
        r.timestamp.toISOString(),
        r.latencyMs ?? null,
      ]),
    );
    // Every content line is quoted, blank lines included.
    expect(md).toContain("> Sorry to hear that!\n> Let me check.\n> \n> One moment…");
    expect(md).toContain("> # Not a title\n> ### 9. Agent · fake");
    expect(md).toContain(`> <script>alert("x")</script> "quoted" \\ ünïcødé 🚚`);
    expect(md.split("\n").filter((line) => line.startsWith("# "))).toHaveLength(1);
  });

  it("exports an empty transcript as valid files", async () => {
    const s = await newSession(ctx.app, owner);
    expect(JSON.parse((await download(s.id, "json")).body).messages).toEqual([]);
    const lines = parseJsonl((await download(s.id, "jsonl")).body);
    expect(lines.map((l) => l.type)).toEqual(["session"]);
    const md = (await download(s.id, "markdown")).body;
    expect(headings(md)).toEqual([]);
    expect(md).toContain("_No messages._");
  });

  it("rejects an unknown format (422)", async () => {
    const error = expectError(await download(sessionId, "csv"), 422, "VALIDATION_ERROR");
    // (One detail per allowed value today: the union's branches each report.)
    expect(new Set(error.details?.map((d) => d.field))).toEqual(new Set(["format"]));
  });

  it("answers 404 for another user's session (no file, no name)", async () => {
    const stranger = await registerUser(ctx.app);
    const res = await as(ctx.app, stranger).get(`/api/sessions/${sessionId}/export?format=markdown`);
    expectError(res, 404, "RESOURCE_NOT_FOUND");
    expect(res.headers["content-disposition"]).toBeUndefined();
    expect(res.body).not.toContain("Late parcel");
    expectError(
      await as(ctx.app, owner.user).get("/api/sessions/00000000-0000-4000-8000-000000000000/export"),
      404,
      "RESOURCE_NOT_FOUND",
    );
  });
});

describe("long transcripts (keyset batches of 500)", () => {
  it("exports 1,200 messages with microsecond timestamps completely and in order", async () => {
    const s = await newSession(ctx.app, owner);
    // Like three API batches of 400: each batch's rows share one now(), which PostgreSQL keeps to the microsecond
    // (all three fall inside one millisecond here). The export's first batch of 500 ends inside the second run.
    const micro = [
      "2024-07-01T10:00:00.123401Z",
      "2024-07-01T10:00:00.123402Z",
      "2024-07-01T10:00:00.123403Z",
    ];
    const ids = await insertMessages(
      ctx,
      s.id,
      Array.from({ length: 1200 }, (_, i) => ({
        senderType: i % 2 ? ("agent" as const) : ("persona" as const),
        content: `message ${i + 1}`,
        timestamp: sql`${micro[Math.floor(i / 400)]}::timestamptz`,
      })),
    );
    // Each format is well under 1 MB for these messages.
    const json = JSON.parse(await downloadCapped(s.id, "json", 1e6));
    expect(json.messages.map((m: ExportedMessage) => m.id)).toEqual(ids);

    const [, ...lines] = parseJsonl(await downloadCapped(s.id, "jsonl", 1e6));
    expect(lines.map((l) => l.id)).toEqual(ids);

    const md = await downloadCapped(s.id, "markdown", 1e6);
    const sections = headings(md);
    expect(sections.map((m) => Number(m[1]))).toEqual(ids.map((_, i) => i + 1));
    expect(md.match(/^> message \d+$/gm)).toEqual(ids.map((_, i) => `> message ${i + 1}`));
  });

  it("orders by timestamp, then insertion, when equal timestamps straddle a batch boundary", async () => {
    const s = await newSession(ctx.app, owner);
    const base = Date.UTC(2024, 6, 1, 12);
    // Inserted newest-ish first; runs of 7 messages share a millisecond, so rows 498–504 of the export tie.
    const rows = Array.from({ length: 1050 }, (_, i) => ({
      senderType: "persona" as const,
      content: `m${i}`,
      timestamp: new Date(base + Math.floor((1049 - i) / 7)),
    }));
    const ids = await insertMessages(ctx, s.id, rows);
    const expected = ids
      .map((id, i) => ({ id, i, t: rows[i]!.timestamp.getTime() }))
      .sort((a, b) => a.t - b.t || a.i - b.i)
      .map((m) => m.id);
    const [, ...lines] = parseJsonl(await downloadCapped(s.id, "jsonl", 1e6));
    expect(lines.map((l) => l.id)).toEqual(expected);
    // The API's own pages agree with the export.
    expect((await transcript(s.id)).map((m) => m.id)).toEqual(expected);
  });
});
