// Property-based fuzzing over every operation of the OpenAPI document: valid-ish requests built from the
// schemas, then broken on purpose (wrong types, missing and extra fields, NUL and lone surrogates, deep nesting,
// huge strings, bad ids, dates and query values, wrong content types). Whatever is sent, the API answers below
// 500, every error is the one envelope whose requestId is the X-Request-Id header, and it is still ready after.
// A fixed seed runs every time; a random one too, printed in the failure message so it can be replayed with
// MIMIC_FUZZ_SEED=<seed>. MIMIC_FUZZ_RUNS raises the number of cases for a longer local run.
import fc from "fast-check";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "./helpers.js";

const FIXED_SEED = 42;
const RUNS = Number(process.env.MIMIC_FUZZ_RUNS ?? 500);
const RANDOM_SEED = Number(process.env.MIMIC_FUZZ_SEED ?? Date.now() % 2 ** 31);
const BODY_LIMIT = 256 * 1024;

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema as found in the document
type Schema = Record<string, any>;
type Resource = "persona" | "agent" | "session" | "apiKey" | "group";

interface Operation {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  operationId: string;
  query: { name: string; schema: Schema; required: boolean }[];
  body: Schema | undefined;
  resource: Resource | undefined;
}

/** A request as generated, kept printable for the failure message. */
interface FuzzRequest {
  op: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  note: string;
}

let ctx: TestContext;
let app: FastifyInstance;
let user: TestUser;
let apiKeyToken: string;
let operations: Operation[];
let components: Record<string, Schema>;
const ids: Record<Resource, string[]> = { persona: [], agent: [], session: [], apiKey: [], group: [] };

const BOT_URL = "https://bot.example.com/hook";
const PASSWORD = "correct horse battery";

async function call(method: InjectOptions["method"], url: string, payload?: object) {
  const res = await app.inject({ method, url, headers: user.headers, ...(payload ? { payload } : {}) });
  expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
  return res.json();
}

/** Sessions are started with a pair the fuzzer never sees: its PUTs may turn the shared agent into anything. */
const stable = { agentId: "", personaId: "" };

const newPersona = async () =>
  (await call("POST", "/api/personas", { name: "Fuzzy", prompt: "You want a refund." })).id as string;
const newAgent = async () =>
  (await call("POST", "/api/agents", { name: "Bot", type: "webhook", config: { webhook_url: BOT_URL } }))
    .id as string;
const newSession = async () => (await call("POST", "/api/sessions", stable)).id as string;
const newApiKey = async () => (await call("POST", "/api/auth/api-keys", { name: "fuzz" })).id as string;

/**
 * DELETE gets a resource of its own, so the shared fixtures stay alive for every other operation. When one
 * cannot be made (a quota reached after thousands of cases), the shared one is used.
 */
const FRESH: Partial<Record<Resource, () => Promise<string>>> = {
  persona: newPersona,
  agent: newAgent,
  session: newSession,
  apiKey: newApiKey,
};

async function fresh(resource: Resource) {
  try {
    return await FRESH[resource]!();
  } catch {
    return ids[resource][0]!;
  }
}

function resourceOf(path: string): Resource | undefined {
  if (!path.includes("{id}")) return undefined;
  if (path.startsWith("/api/personas/")) return "persona";
  if (path.startsWith("/api/agents/") || path.startsWith("/api/analytics/agents/")) return "agent";
  if (path.startsWith("/api/sessions/")) return "session";
  if (path.startsWith("/api/auth/api-keys/")) return "apiKey";
  if (path.startsWith("/api/session-groups/")) return "group";
  return undefined;
}

function operationsOf(document: Schema): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Schema>))
    for (const [method, op] of Object.entries(item)) {
      const parameters = (op.parameters ?? []) as Schema[];
      out.push({
        method: method.toUpperCase() as Operation["method"],
        path,
        operationId: op.operationId,
        query: parameters
          .filter((p) => p.in === "query")
          .map((p) => ({ name: p.name, schema: p.schema ?? {}, required: p.required === true })),
        body: op.requestBody?.content?.["application/json"]?.schema,
        resource: resourceOf(path),
      });
    }
  return out;
}

const resolve = (schema: Schema): Schema =>
  typeof schema.$ref === "string" ? resolve(components[schema.$ref.split("/").pop()!] ?? {}) : schema;

// ---------------------------------------------------------------------------------------------------------------
// Valid-ish values from a schema
// ---------------------------------------------------------------------------------------------------------------

const URLS = [
  BOT_URL,
  "wss://bot.example.com/ws",
  "https://203.0.113.7/x",
  "http://127.0.0.1:9/x",
  "ftp://x",
];

function stringFor(schema: Schema): fc.Arbitrary<string> {
  const allIds = () => Object.values(ids).flat();
  switch (schema.format) {
    case "uuid":
      return fc.oneof(fc.constantFrom(...allIds()), fc.uuid());
    case "date":
      return fc.oneof(
        fc.constantFrom("2026-01-15", "1970-01-01", "9999-12-30", "2024-02-29"),
        fc
          .date({ min: new Date("1970-01-01"), max: new Date("2200-01-01"), noInvalidDate: true })
          .map((d) => d.toISOString().slice(0, 10)),
      );
    case "date-time":
      return fc
        .date({ min: new Date("1970-01-01"), max: new Date("2200-01-01"), noInvalidDate: true })
        .map((d) => d.toISOString());
    case "uri":
    case "url":
      return fc.constantFrom(...URLS);
    case "email":
      return fc.uuid().map((u) => `fuzz-${u.slice(0, 8)}@example.com`);
  }
  if (typeof schema.pattern === "string") {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).map((s) => s.slice(0, schema.maxLength ?? 200));
    } catch {
      // An ECMAScript-incompatible pattern: plain strings below.
    }
  }
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? 24, 40));
  return fc.oneof(fc.string({ minLength, maxLength }), fc.string({ minLength, maxLength, unit: "grapheme" }));
}

function numberFor(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const lo = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1000);
  const hi =
    schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : 100_000);
  const min = Math.max(lo, -1e9);
  const max = Math.max(min, Math.min(hi, 1e9));
  return integer
    ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) })
    : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/** Fields that name a resource of the user: mostly its real ids, so requests get past the lookup. */
const ID_FIELDS: Record<string, Resource> = { agentId: "agent", personaId: "persona", sessionId: "session" };

function valueFor(input: Schema, depth = 0, name?: string): fc.Arbitrary<unknown> {
  const schema = resolve(input);
  if (depth > 5) return fc.constant(null);
  const resource = name ? ID_FIELDS[name] : undefined;
  if (resource && ids[resource].length)
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...ids[resource]) },
      fc.uuid(),
      stringFor(schema),
    );
  if ("const" in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  const union = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (union?.length) return fc.oneof(...union.map((s) => valueFor(s, depth + 1)));
  if (Array.isArray(schema.allOf) && schema.allOf.length) return valueFor(schema.allOf[0], depth + 1);
  if (Array.isArray(schema.type))
    return fc.oneof(...schema.type.map((type: string) => valueFor({ ...schema, type }, depth + 1)));
  switch (schema.type) {
    case "string":
      return stringFor(schema);
    case "integer":
      return numberFor(schema, true);
    case "number":
      return numberFor(schema, false);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(valueFor(schema.items ?? {}, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)),
      });
    case "object":
      return objectFor(schema, depth);
  }
  return fc.jsonValue({ maxDepth: 2 });
}

function objectFor(schema: Schema, depth: number): fc.Arbitrary<unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = (schema.required ?? []) as string[];
  const known = fc.record(
    Object.fromEntries(Object.entries(properties).map(([key, s]) => [key, valueFor(s, depth + 1, key)])),
    { requiredKeys: required.filter((key) => key in properties) },
  );
  const free =
    schema.patternProperties && Object.values(schema.patternProperties)[0]
      ? (Object.values(schema.patternProperties)[0] as Schema)
      : typeof schema.additionalProperties === "object"
        ? (schema.additionalProperties as Schema)
        : undefined;
  if (!free) return known;
  const extra = fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), valueFor(free, depth + 1), {
    maxKeys: 3,
  });
  return fc.tuple(known, extra).map(([k, e]) => ({ ...e, ...(k as object) }));
}

// ---------------------------------------------------------------------------------------------------------------
// Breaking things
// ---------------------------------------------------------------------------------------------------------------

const EVIL_STRINGS = [
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "x\udc00y",
  "\ud83d",
  "\ufeff",
  "\u202e",
  "😀",
  "%00",
  "' or 1=1 --",
  "<script>alert(1)</script>",
  "\\",
  "",
  " ",
  "null",
  "{{7*7}}",
  "$\u007bjndi:x}",
  "-1",
  "0000-01-01",
  "9999-12-31",
  "9999-12-31T23:59:59.999-14:00",
  "0000-01-01T00:00:00Z",
];
const WRONG_TYPES: unknown[] = [
  123,
  -1,
  0,
  1e308,
  3.5,
  true,
  false,
  null,
  [],
  {},
  [1, "a"],
  { a: 1 },
  "text",
];
const DEEP_LEVELS = [33, 200, 5_000, 50_000];

/** Every path inside a JSON value (bounded), the root included as []. */
function pathsOf(value: unknown): (string | number)[][] {
  const out: (string | number)[][] = [];
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  while (stack.length && out.length < 200) {
    const { v, path } = stack.pop()!;
    out.push(path);
    if (Array.isArray(v)) for (const [i, item] of v.entries()) stack.push({ v: item, path: [...path, i] });
    else if (v && typeof v === "object")
      for (const [k, item] of Object.entries(v)) stack.push({ v: item, path: [...path, k] });
  }
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
  return copy;
}

function deleteAt(root: unknown, path: (string | number)[]): unknown {
  if (path.length === 0) return root;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  if (Array.isArray(node)) node.splice(Number(path.at(-1)), 1);
  else delete node[path.at(-1)!];
  return copy;
}

/** A containing object or array to add to: the root when the chosen path leads to a scalar. */
function containerPath(value: unknown, path: (string | number)[]) {
  let node = value;
  let last: (string | number)[] = [];
  const walked: (string | number)[] = [];
  if (node && typeof node === "object") last = [];
  for (const key of path) {
    node = (node as Record<string | number, unknown>)[key];
    walked.push(key);
    if (node && typeof node === "object") last = [...walked];
  }
  return last;
}

const DEEP_MARK = "__fuzz_deep__";
const deepJson = (levels: number, kind: "array" | "object") =>
  kind === "array"
    ? "[".repeat(levels) + "]".repeat(levels)
    : `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

interface Body {
  payload: string | Buffer | undefined;
  contentType: string | undefined;
  note: string;
}

const JSON_TYPE = "application/json";

/**
 * Bodies known to be accepted, mixed into the generated ones: free-form parts of the document (an agent's
 * `config` depends on its `type`) would otherwise almost never produce a request that gets through.
 */
function knownGood(operationId: string): unknown[] {
  const agent = { name: "Bot", type: "webhook", config: { webhook_url: BOT_URL, secret: "s3cret-value" } };
  const message = { senderType: "agent", content: "Your refund is on its way." };
  const good: Record<string, unknown[]> = {
    createAgent: [agent, { ...agent, status: "inactive" }],
    updateAgent: [agent, { name: "Renamed" }, { config: { webhook_url: BOT_URL } }],
    createPersona: [{ name: "P", prompt: "You are a customer.", temperature: 0.7, traits: { mood: "calm" } }],
    updatePersona: [{ name: "P2" }, { temperature: 1e-50 }],
    createSession: [stable, { ...stable, metadata: { build: 42, tags: ["a"] } }],
    updateSession: [{ metadata: { reviewed: true, note: null } }],
    addSessionMessage: [message, { ...message, senderType: "persona" }],
    addSessionMessages: [{ messages: [message, { ...message, senderType: "persona" }] }],
    createApiKey: [{ name: "ci", expiresInDays: 30 }],
    login: [{ email: user.email, password: PASSWORD }],
  };
  return good[operationId] ?? [];
}

function bodyFor(schema: Schema, operationId: string): fc.Arbitrary<Body> {
  const examples = knownGood(operationId);
  const valid = examples.length ? fc.oneof(valueFor(schema), fc.constantFrom(...examples)) : valueFor(schema);
  const asJson = (value: unknown, note: string): Body => ({
    payload: JSON.stringify(value),
    contentType: JSON_TYPE,
    note,
  });
  const pick = <T>(list: T[], n: number) => list[n % list.length]!;
  return fc.oneof(
    { weight: 4, arbitrary: valid.map((v) => asJson(v, "valid-ish")) },
    {
      weight: 2,
      arbitrary: fc.tuple(valid, fc.nat()).map(([v, n]) => {
        const paths = pathsOf(v).filter((p) => p.length > 0);
        return paths.length ? asJson(deleteAt(v, pick(paths, n)), "missing field") : asJson(v, "valid-ish");
      }),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(valid, fc.nat(), fc.string({ maxLength: 6 })).map(([v, n, key]) => {
        const at = containerPath(v, pick(pathsOf(v), n));
        return asJson(
          setAt(v, [...at, Array.isArray(v) && at.length === 0 ? 0 : `x${key}`], 1),
          "extra field",
        );
      }),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(valid, fc.nat(), fc.constantFrom(...WRONG_TYPES))
        .map(([v, n, wrong]) => asJson(setAt(v, pick(pathsOf(v), n), wrong), "wrong type")),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(valid, fc.nat(), fc.constantFrom(...EVIL_STRINGS), fc.boolean())
        .map(([v, n, evil, asKey]) => {
          const path = pick(pathsOf(v), n);
          if (!asKey) return asJson(setAt(v, path, evil), `evil string ${JSON.stringify(evil)}`);
          const at = containerPath(v, path);
          return asJson(setAt(v, [...at, evil], "v"), `evil key ${JSON.stringify(evil)}`);
        }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          valid,
          fc.nat(),
          fc.constantFrom(...DEEP_LEVELS),
          fc.constantFrom("array", "object") as fc.Arbitrary<"array" | "object">,
        )
        .map(([v, n, levels, kind]) => {
          const text = JSON.stringify(setAt(v, pick(pathsOf(v), n), DEEP_MARK));
          return {
            payload: text.replace(`"${DEEP_MARK}"`, () => deepJson(levels, kind)),
            contentType: JSON_TYPE,
            note: `nested ${levels} levels`,
          };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.nat(), fc.constantFrom(40_000, 200_000, BODY_LIMIT + 1000))
        .map(([v, n, size]) =>
          asJson(setAt(v, pick(pathsOf(v), n), "é".repeat(size / 2)), `huge string (${size} bytes)`),
        ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Body>(
        { payload: "", contentType: JSON_TYPE, note: "empty JSON body" },
        { payload: "{", contentType: JSON_TYPE, note: "truncated JSON" },
        { payload: '{"a":1}garbage', contentType: JSON_TYPE, note: "trailing garbage" },
        { payload: "null", contentType: JSON_TYPE, note: "null body" },
        { payload: "[]", contentType: JSON_TYPE, note: "array body" },
        { payload: '"text"', contentType: JSON_TYPE, note: "string body" },
        { payload: "1e999", contentType: JSON_TYPE, note: "number body" },
        { payload: '{"__proto__":{"admin":true}}', contentType: JSON_TYPE, note: "__proto__" },
        { payload: '{"constructor":{"prototype":{"x":1}}}', contentType: JSON_TYPE, note: "constructor" },
        {
          payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
          contentType: JSON_TYPE,
          note: "invalid UTF-8",
        },
        {
          payload: `{"name":"${"x".repeat(BODY_LIMIT)}"}`,
          contentType: JSON_TYPE,
          note: "over the body limit",
        },
        { payload: "{}", contentType: "text/plain", note: "text/plain" },
        { payload: "<a/>", contentType: "application/xml", note: "xml" },
        { payload: "a=1&b=2", contentType: "application/x-www-form-urlencoded", note: "form" },
        { payload: "--x\r\n\r\n--x--", contentType: "multipart/form-data; boundary=x", note: "multipart" },
        { payload: "{}", contentType: "application/json; charset=utf-16", note: "utf-16 charset" },
        { payload: "{}", contentType: "application/jsonx", note: "jsonx" },
        { payload: "{}", contentType: undefined, note: "no content type" },
      ),
    },
  );
}

/** Query values as they appear on the wire: already percent-encoded. */
const EVIL_QUERY = [
  "%00",
  "a%00b",
  "%ED%A0%80",
  "%ff",
  "%zz",
  "%",
  "-1",
  "0",
  "1e400",
  "NaN",
  "Infinity",
  "0x10",
  "true",
  "",
  "%27%20or%201%3D1",
  "!!!",
  "%22",
  "%3A*",
  "%3C-%3E",
  "(",
  "%7C",
  "-",
  "0000-01-01",
  "9999-12-31",
  "2024-02-30",
  "2024-13-45",
  "0000-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999-14:00",
  "not-a-uuid",
  "x".repeat(5000),
];

const encodeValue = (value: unknown) => {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  try {
    return encodeURIComponent(text);
  } catch {
    return "%ED%A0%80"; // a lone surrogate, as a client that does not check would send it
  }
};

/** Half the queries hold only valid-ish values (so filters and searches run), half are broken on purpose. */
function queryFor(op: Operation): fc.Arbitrary<string> {
  const clean = op.query.map((p) => {
    const given = valueFor(p.schema, 0, p.name).map((v) => [`${p.name}=${encodeValue(v)}`]);
    return p.required ? given : fc.oneof(given, fc.constant([] as string[]));
  });
  return fc.oneof(
    fc.tuple(...clean).map((chosen) => chosen.flat().join("&")),
    dirtyQuery(op),
  );
}

function dirtyQuery(op: Operation): fc.Arbitrary<string> {
  const parts = op.query.map((p) =>
    fc.oneof(
      {
        weight: p.required ? 6 : 3,
        arbitrary: valueFor(p.schema, 0, p.name).map((v) => [`${p.name}=${encodeValue(v)}`]),
      },
      { weight: p.required ? 1 : 3, arbitrary: fc.constant([] as string[]) },
      { weight: 2, arbitrary: fc.constantFrom(...EVIL_QUERY).map((v) => [`${p.name}=${v}`]) },
      { weight: 1, arbitrary: fc.constant([`${p.name}=1`, `${p.name}=2`]) },
      { weight: 1, arbitrary: fc.constant([p.name]) },
    ),
  );
  const extra = fc.oneof(
    { weight: 6, arbitrary: fc.constant([] as string[]) },
    { weight: 1, arbitrary: fc.constantFrom(...EVIL_QUERY).map((v) => [`unknown=${v}`]) },
    { weight: 1, arbitrary: fc.constant(["%zz=1"]) },
  );
  return fc.tuple(fc.tuple(...parts), extra).map(([chosen, more]) => [...chosen.flat(), ...more].join("&"));
}

type IdChoice = { kind: "real" | "fresh" | "other" | "raw"; raw?: string };

function idFor(op: Operation): fc.Arbitrary<IdChoice> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant<IdChoice>({ kind: op.method === "DELETE" ? "fresh" : "real" }) },
    { weight: 1, arbitrary: fc.constant<IdChoice>({ kind: "other" }) },
    { weight: 1, arbitrary: fc.uuid().map<IdChoice>((raw) => ({ kind: "raw", raw })) },
    {
      weight: 3,
      arbitrary: fc
        .constantFrom(
          "%zz",
          "%",
          "%00",
          "%ED%A0%80",
          "%ff",
          "not-a-uuid",
          "1",
          "null",
          "..%2F..%2Fetc",
          "%2F",
          "a".repeat(150),
          "a".repeat(500),
          "a".repeat(2000),
          "00000000-0000-0000-0000-000000000000",
          "%F0%9F%98%80",
        )
        .map<IdChoice>((raw) => ({ kind: "raw", raw })),
    },
  );
}

type Auth = "user" | "apiKey" | "none" | "garbage" | "basic";

interface Generated {
  op: Operation;
  id: IdChoice | undefined;
  query: string;
  body: Body | undefined;
  auth: Auth;
  requestId: string | undefined;
  swapMethod: Operation["method"] | undefined;
}

const requestArb = (): fc.Arbitrary<Generated> =>
  fc.constantFrom(...operations).chain((op) =>
    fc.record({
      op: fc.constant(op),
      id: op.resource ? idFor(op) : fc.constant(undefined),
      query: queryFor(op),
      body: op.body ? bodyFor(op.body, op.operationId) : fc.constant(undefined),
      auth: fc.oneof(
        { weight: 12, arbitrary: fc.constant<Auth>("user") },
        { weight: 2, arbitrary: fc.constant<Auth>("apiKey") },
        { weight: 1, arbitrary: fc.constantFrom<Auth>("none", "garbage", "basic") },
      ),
      requestId: fc.constantFrom(undefined, undefined, undefined, "fuzz-request-0001", "bad id with spaces"),
      swapMethod: fc.constantFrom<Operation["method"] | undefined>(
        ...Array(20).fill(undefined),
        "PATCH",
        "PUT",
      ),
    }),
  );

/** Turns a generated case into a request, creating the resource a DELETE removes. */
async function materialise(input: Generated): Promise<FuzzRequest> {
  const { op, id, query, body, auth, requestId, swapMethod } = input;
  let path = op.path;
  if (op.resource && id) {
    const value =
      id.kind === "raw"
        ? id.raw!
        : id.kind === "fresh" && FRESH[op.resource]
          ? await fresh(op.resource)
          : id.kind === "other"
            ? (Object.values(ids)
                .flat()
                .find((x) => !ids[op.resource!].includes(x)) ?? "x")
            : ids[op.resource][0]!;
    path = path.replace("{id}", value);
  }
  const headers: Record<string, string> = {};
  if (auth === "user") headers.authorization = user.headers.authorization;
  if (auth === "apiKey") headers.authorization = `Bearer ${apiKeyToken}`;
  if (auth === "garbage") headers.authorization = "Bearer not.a.token";
  if (auth === "basic") headers.authorization = "Basic dXNlcjpwYXNz";
  if (requestId) headers["x-request-id"] = requestId;
  if (body?.contentType) headers["content-type"] = body.contentType;
  const request: FuzzRequest = {
    op: op.operationId,
    method: swapMethod ?? op.method,
    url: query ? `${path}?${query}` : path,
    headers,
    note: body?.note ?? "no body",
  };
  if (body?.payload !== undefined) request.payload = body.payload;
  return request;
}

function describeRequest(req: FuzzRequest) {
  const payload = req.payload === undefined ? "" : ` body(${req.note}): ${String(req.payload).slice(0, 300)}`;
  return `${req.method} ${req.url.slice(0, 300)} [${req.op}] headers=${JSON.stringify(req.headers)}${payload}`;
}

function check(req: FuzzRequest, res: LightMyRequestResponse, seed: number) {
  const where = `seed ${seed} — ${describeRequest(req)} → ${res.statusCode} ${res.body.slice(0, 500)}`;
  expect(res.statusCode, where).toBeLessThan(500);
  const header = res.headers["x-request-id"];
  expect(typeof header, `no X-Request-Id: ${where}`).toBe("string");
  if (req.headers["x-request-id"] === "fuzz-request-0001") expect(header, where).toBe("fuzz-request-0001");
  if (res.statusCode < 400) return;
  expect(res.headers["content-type"], where).toMatch(/^application\/json/);
  let body: { error?: Record<string, unknown> };
  try {
    body = res.json();
  } catch {
    throw new Error(`error body is not JSON: ${where}`);
  }
  expect(Object.keys(body), where).toEqual(["error"]);
  const error = body.error!;
  expect(ERROR_CODES, where).toContain(error.code);
  expect(typeof error.message, where).toBe("string");
  expect(error.requestId, where).toBe(header);
  expect(
    Object.keys(error).every((k) => ["code", "message", "details", "requestId"].includes(k)),
    where,
  ).toBe(true);
  if (error.details !== undefined) {
    expect(Array.isArray(error.details), where).toBe(true);
    for (const d of error.details as Record<string, unknown>[]) {
      expect(typeof d.field, where).toBe("string");
      expect(typeof d.message, where).toBe("string");
    }
  }
  // Nothing internal leaks through a message.
  expect(res.body, where).not.toMatch(/\bat .*\.(ts|js):\d+|select |insert into|drizzle|postgres|pglite/i);
}

async function fuzz(seed: number, numRuns: number) {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(requestArb(), async (input) => {
      const req = await materialise(input);
      const res = await app.inject({
        method: req.method as InjectOptions["method"],
        url: req.url,
        headers: req.headers,
        ...(req.payload !== undefined ? { payload: req.payload } : {}),
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      check(req, res, seed);
    }),
    // No shrinking: the server keeps state, and the first failure with its seed is what a fix needs.
    { seed, numRuns, endOnFailure: true },
  );
  return statuses;
}

beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_BODY_LIMIT: String(BODY_LIMIT) });
  app = ctx.app;
  await app.ready();
  components = (app.swagger() as Schema).components.schemas;
  operations = operationsOf(app.swagger() as Schema);
  user = await registerUser(app, PASSWORD);
  stable.agentId = await newAgent();
  stable.personaId = await newPersona();
  ids.persona.push(await newPersona(), await newPersona());
  ids.agent.push(await newAgent(), await newAgent());
  ids.session.push(await newSession(), await newSession());
  const key = await call("POST", "/api/auth/api-keys", { name: "fuzz-ci" });
  apiKeyToken = key.key;
  ids.apiKey.push(key.id);
  await call("POST", `/api/sessions/${ids.session[0]}/messages/batch`, {
    messages: [
      { senderType: "persona", content: "My order is late and I want a refund" },
      { senderType: "agent", content: "Sorry to hear that: let me check your order status." },
    ],
  });
  const repeat = await call("POST", `/api/sessions/${ids.session[1]}/repeat?times=2`);
  ids.group.push(repeat.id);
});
afterAll(() => ctx?.close());

describe("fuzzing every operation of the OpenAPI document", () => {
  it("covers the operations the document lists", () => {
    expect(operations.length).toBeGreaterThan(30);
    expect(operations.map((op) => op.operationId)).toEqual(
      expect.arrayContaining(["createPersona", "updateSession", "searchMessages", "getSessionAnalytics"]),
    );
  });

  for (const [name, seed] of [
    ["a fixed seed", FIXED_SEED],
    ["a random seed", RANDOM_SEED],
  ] as const)
    it(`answers below 500, in the envelope, with ${name} (${seed})`, async () => {
      const statuses = await fuzz(seed, RUNS);
      // Both kinds of outcome were exercised, not only rejections.
      const count = (lo: number, hi: number) =>
        [...statuses].filter(([s]) => s >= lo && s < hi).reduce((n, [, c]) => n + c, 0);
      expect(count(200, 300), JSON.stringify([...statuses])).toBeGreaterThan(RUNS / 20);
      expect(count(400, 500), JSON.stringify([...statuses])).toBeGreaterThan(RUNS / 4);
    });

  it("is still ready afterwards", async () => {
    const res = await app.inject({ method: "GET", url: "/health/ready" });
    expect(res.statusCode, res.body).toBe(200);
  });
});
