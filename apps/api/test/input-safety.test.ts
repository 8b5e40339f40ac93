// Input no schema could express: strings PostgreSQL cannot store, nesting that would exhaust the stack, dates
// beyond what the database reads, and URLs the router refuses. Each is a client error in the one envelope.
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent, createPersona, startSession } from "./engine/fixtures.js";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "./helpers.js";

let ctx: TestContext;
let user: TestUser;
let agentId: string;
let sessionId: string;

const nested = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${"}".repeat(levels - 1)}`;

beforeAll(async () => {
  ctx = await createTestApp();
  user = await registerUser(ctx.app);
  const persona = await createPersona(ctx.app, user);
  const agent = await createAgent(ctx.app, user, { webhook_url: "https://bot.example.com/hook" });
  agentId = agent.id;
  sessionId = (await startSession(ctx.app, user, { agentId, personaId: persona.id })).id;
});
afterAll(() => ctx.close());

const send = (method: "POST" | "PUT" | "PATCH", url: string, payload: string | object, auth = true) =>
  ctx.app.inject({
    method,
    url,
    headers: { ...(auth ? user.headers : {}), "content-type": "application/json" },
    payload,
  });
const get = (url: string) => ctx.app.inject({ method: "GET", url, headers: user.headers });

describe("strings that cannot be stored", () => {
  const UNSTORABLE = "must not contain NUL characters or unpaired UTF-16 surrogates";

  it("refuses a NUL in a field with 422 naming it", async () => {
    const res = await send("POST", "/api/personas", { name: "a\u0000b", prompt: "p" });
    expect(expectError(res, 422, "VALIDATION_ERROR").details).toEqual([
      { field: "name", message: UNSTORABLE },
    ]);
  });

  it("refuses a NUL before authentication is needed (register)", async () => {
    const res = await send(
      "POST",
      "/api/auth/register",
      { email: "nul@example.com", password: "correct horse battery", name: "\u0000" },
      false,
    );
    expect(expectError(res, 422, "VALIDATION_ERROR").details).toEqual([
      { field: "name", message: UNSTORABLE },
    ]);
  });

  it("finds lone surrogates inside free JSON, by path", async () => {
    const traits = await send("POST", "/api/personas", '{"name":"P","prompt":"p","traits":{"k":"\\ud800"}}');
    expect(expectError(traits, 422, "VALIDATION_ERROR").details).toEqual([
      { field: "traits.k", message: UNSTORABLE },
    ]);
    const metadata = await send("PATCH", `/api/sessions/${sessionId}`, '{"metadata":{"k":["ok","\\udfff"]}}');
    expect(expectError(metadata, 422, "VALIDATION_ERROR").details).toEqual([
      { field: "metadata.k[1]", message: UNSTORABLE },
    ]);
  });

  it("checks property names too", async () => {
    const res = await send("PATCH", `/api/sessions/${sessionId}`, '{"metadata":{"a\\u0000":1}}');
    const [detail] = expectError(res, 422, "VALIDATION_ERROR").details!;
    expect(detail).toEqual({
      field: "metadata",
      message: "property names must not contain NUL characters or unpaired UTF-16 surrogates",
    });
  });

  it("keeps well-formed text, surrogate pairs included", async () => {
    const res = await send("PATCH", `/api/sessions/${sessionId}`, { metadata: { emoji: "😀 \ufeff ok" } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().metadata.emoji).toBe("😀 \ufeff ok");
  });

  it("answers a search for NUL with 422, on both search routes", async () => {
    for (const url of ["/api/search?q=%00", `/api/sessions/${sessionId}/search?q=a%00b`]) {
      const error = expectError(await get(url), 422, "VALIDATION_ERROR");
      expect(error.details).toEqual([{ field: "q", message: UNSTORABLE }]);
    }
  });

  it("stores nothing when it refuses", async () => {
    await send("POST", `/api/sessions/${sessionId}/messages`, { senderType: "agent", content: "x\u0000" });
    const res = await get(`/api/sessions/${sessionId}/messages`);
    expect(res.json().pagination.total).toBe(0);
  });
});

describe("nesting depth", () => {
  it("accepts 32 levels of objects and arrays", async () => {
    // The body is level 1, metadata level 2: 30 more below it make 32.
    const res = await send("PATCH", `/api/sessions/${sessionId}`, `{"metadata":${nested(31)}}`);
    expect(res.statusCode, res.body).toBe(200);
  });

  it("refuses a 33rd level with 422 naming where it starts", async () => {
    const res = await send("PATCH", `/api/sessions/${sessionId}`, `{"metadata":${nested(32)}}`);
    const [detail] = expectError(res, 422, "VALIDATION_ERROR").details!;
    expect(detail!.field).toBe(`metadata${".a".repeat(31)}`);
    expect(detail!.message).toBe("must not nest more than 32 levels of objects and arrays");
  });

  it("refuses 100,000 levels without overflowing the stack", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const res = await send("PATCH", `/api/sessions/${sessionId}`, `{"metadata":{"k":${deep}}}`);
    expect(expectError(res, 422, "VALIDATION_ERROR").details?.[0]?.field).toMatch(/^metadata\.k(\[0\])+$/);
    expect((await get("/health/ready")).statusCode).toBe(200);
  });
});

describe("dates", () => {
  it("refuses analytics days PostgreSQL or the day after cannot hold, naming the field", async () => {
    for (const base of ["/api/analytics/sessions", `/api/analytics/agents/${agentId}`]) {
      const early = expectError(await get(`${base}?endDate=0000-01-01`), 422, "VALIDATION_ERROR");
      expect(early.details).toEqual([
        { field: "endDate", message: "must be between 1970-01-01 and 9999-12-30" },
      ]);
      const late = expectError(
        await get(`${base}?startDate=9999-12-31&endDate=9999-12-31`),
        422,
        "VALIDATION_ERROR",
      );
      expect(late.details?.[0]?.field).toBe("endDate");
    }
  });

  it("still answers the last day allowed", async () => {
    const res = await get("/api/analytics/sessions?startDate=9999-12-30&endDate=9999-12-30");
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().dailyStats).toEqual([
      { date: "9999-12-30", sessions: 0, messages: 0, avgDuration: null },
    ]);
  });

  it("refuses search bounds before 1970", async () => {
    const error = expectError(
      await get("/api/search?q=refund&from=0000-01-01T00:00:00Z"),
      422,
      "VALIDATION_ERROR",
    );
    expect(error.details).toEqual([{ field: "from", message: "must be a date-time between 1970 and 9999" }]);
  });
});

describe("errors from the router and the body parser", () => {
  it("answers a badly percent-encoded path in the envelope", async () => {
    const res = await ctx.app.inject({
      method: "GET",
      url: "/api/sessions/%zz",
      headers: { ...user.headers, "x-request-id": "client-chosen-id-01" },
    });
    expectError(res, 400, "VALIDATION_ERROR");
    expect(res.headers["x-request-id"]).toBe("client-chosen-id-01");
  });

  it("lets a long id reach its route (404), and answers an absurd one with 414", async () => {
    expectError(await get(`/api/sessions/${"a".repeat(500)}`), 404, "RESOURCE_NOT_FOUND");
    const res = await get(`/api/sessions/${"a".repeat(2000)}`);
    expect(expectError(res, 414, "VALIDATION_ERROR").message).toBe("A path segment is too long");
  });

  it("answers a request Node's HTTP parser refuses in the envelope too", async () => {
    await ctx.app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = ctx.app.server.address() as AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.write("GET /health HTTP/1.1\r\nHost x\r\n\r\n"));
      let data = "";
      socket.on("data", (chunk) => {
        data += chunk;
      });
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
    });
    const [head, body] = raw.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    const requestId = /\r\nX-Request-Id: (\S+)/i.exec(head!)?.[1];
    expect(JSON.parse(body!)).toEqual({
      error: { code: "VALIDATION_ERROR", message: "The request is not valid HTTP", requestId },
    });
  });

  it("answers wrong content types, empty bodies and oversized bodies in the envelope", async () => {
    const xml = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: { ...user.headers, "content-type": "application/xml" },
      payload: "<persona/>",
    });
    expectError(xml, 415, "VALIDATION_ERROR");
    expectError(await send("POST", "/api/personas", ""), 400, "VALIDATION_ERROR");
    expectError(await send("POST", "/api/personas", "{"), 400, "VALIDATION_ERROR");
    const big = `{"name":"${"x".repeat(2 * 1024 * 1024)}"}`;
    expectError(await send("POST", "/api/personas", big), 413, "VALIDATION_ERROR");
  });
});
