// The only reader of process.env: validates the environment once and returns a typed, frozen config.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseSecretKey } from "./lib/secrets.js";

const Bool = Type.Union([Type.Literal("true"), Type.Literal("false"), Type.Literal("1"), Type.Literal("0")]);
const Int = (description: string, minimum = 0) => Type.String({ pattern: "^[0-9]+$", description, minimum });

/**
 * Turns one process plays at once. A turn is mostly waiting (for its bot, for the group commit of its writes), and
 * at 2,000 turns/s about 200 are in flight on average, more in bursts: the default leaves room for that and for
 * bots that think for seconds. Bounds this process's outbound requests to bots at once.
 */
export const DEFAULT_ENGINE_CONCURRENCY = 1000;

/** Environment variables Mimic reads, with their meaning (the README's configuration table mirrors this). */
export const EnvSchema = Type.Object({
  NODE_ENV: Type.Optional(
    Type.Union([Type.Literal("development"), Type.Literal("production"), Type.Literal("test")]),
  ),
  HOST: Type.Optional(
    Type.String({ minLength: 1, description: "Interface to listen on (default 127.0.0.1)" }),
  ),
  PORT: Type.Optional(Int("TCP port (default 4000)")),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: "^postgres(ql)?://", description: "PostgreSQL URL; without it, embedded PGlite" }),
  ),
  MIMIC_DATA_DIR: Type.Optional(
    Type.String({ minLength: 1, description: "Embedded database and dev secrets" }),
  ),
  MIMIC_JWT_SECRET: Type.Optional(Type.String({ minLength: 32, description: "HS256 secret, ≥ 32 bytes" })),
  MIMIC_JWT_EXPIRES_IN: Type.Optional(Int("Access token lifetime in seconds (default 3600)")),
  MIMIC_SECRET_KEY: Type.Optional(
    Type.String({ description: "Encrypts agent secrets at rest: 32 bytes, base64 or hex" }),
  ),
  MIMIC_SECRET_KEY_PREVIOUS: Type.Optional(
    Type.String({ description: "Keys replaced by MIMIC_SECRET_KEY (comma-separated): they still decrypt" }),
  ),
  MIMIC_ALLOW_REGISTRATION: Type.Optional(Bool),
  MIMIC_TEST_TOKEN: Type.Optional(
    Type.String({ minLength: 8, description: "Static bearer token for tests" }),
  ),
  MIMIC_RATE_LIMIT_USER: Type.Optional(Int("Requests per window per authenticated user (default 1000)")),
  MIMIC_RATE_LIMIT_ANON: Type.Optional(Int("Requests per window per anonymous IP (default 100)")),
  MIMIC_RATE_LIMIT_AGENT: Type.Optional(
    Int("Replies per window per agent posting with its api_key (default 10000)"),
  ),
  MIMIC_RATE_LIMIT_LOGIN: Type.Optional(Int("Login attempts per window per IP (default 20)")),
  MIMIC_RATE_LIMIT_WINDOW: Type.Optional(Int("Rate-limit window in seconds (default 3600)")),
  MIMIC_BODY_LIMIT: Type.Optional(Int("Maximum request body in bytes (default 1048576)")),
  MIMIC_LOG_LEVEL: Type.Optional(
    Type.Union(["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l))),
  ),
  MIMIC_LOG_FORMAT: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("pretty")])),
  MIMIC_TRUST_PROXY: Type.Optional(Bool),
  MIMIC_CORS_ORIGINS: Type.Optional(
    Type.String({ description: "Comma-separated origins allowed to call the API from a browser, or *" }),
  ),
  MIMIC_ALLOW_PRIVATE_TARGETS: Type.Optional(Bool),
  MIMIC_ROLE: Type.Optional(Type.Union([Type.Literal("all"), Type.Literal("api"), Type.Literal("worker")])),
  MIMIC_ENGINE_CONCURRENCY: Type.Optional(
    Int(`Turns one process plays at once (default ${DEFAULT_ENGINE_CONCURRENCY})`),
  ),
  MIMIC_SHUTDOWN_DRAIN_MS: Type.Optional(
    Int("On SIGTERM, how long requests in flight may take before connections are closed (default 5000)"),
  ),
  MIMIC_ENGINE_USER_CONCURRENCY: Type.Optional(
    Int("Turns of one user played at once, across every worker (default: half of MIMIC_ENGINE_CONCURRENCY)"),
  ),
  MIMIC_ENGINE_POLL_MS: Type.Optional(Int("How often the runner looks for due sessions (default 200)")),
  MIMIC_ENGINE_LEASE_MS: Type.Optional(
    Int("How long a worker holds a session before others may take it (default 30000)"),
  ),
  MIMIC_AGENT_TIMEOUT_MS: Type.Optional(
    Int("Total time of one delivery attempt to an agent: connect, send, wait, read (default 10000)"),
  ),
  MIMIC_AGENT_CONNECT_TIMEOUT_MS: Type.Optional(
    Int("Time to reach an agent (DNS, TCP, TLS, WebSocket handshake) (default 5000)"),
  ),
  MIMIC_AGENT_MAX_ATTEMPTS: Type.Optional(Int("Delivery attempts before a session fails (default 3)")),
  MIMIC_LLM_BASE_URL: Type.Optional(
    Type.String({ pattern: "^https?://", description: "OpenAI-compatible endpoint" }),
  ),
  MIMIC_LLM_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  MIMIC_LLM_MODEL: Type.Optional(Type.String({ minLength: 1 })),
  MIMIC_LLM_TIMEOUT_MS: Type.Optional(Int("Timeout of one LLM call (default 30000)")),
  MIMIC_STT_BASE_URL: Type.Optional(
    Type.String({
      pattern: "^https?://",
      description:
        "OpenAI-compatible speech-to-text endpoint, with its /v1 (`/audio/transcriptions` is appended); voice agents need it",
    }),
  ),
  MIMIC_STT_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  MIMIC_STT_MODEL: Type.Optional(Type.String({ minLength: 1, description: "Default whisper-1" })),
  MIMIC_STT_TIMEOUT_MS: Type.Optional(Int("Timeout of one transcription (default 30000)")),
  MIMIC_TTS_BASE_URL: Type.Optional(
    Type.String({
      pattern: "^https?://",
      description:
        "OpenAI-compatible text-to-speech endpoint, with its /v1 (`/audio/speech` is appended); without it Mimic speaks offline with flite",
    }),
  ),
  MIMIC_TTS_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  MIMIC_TTS_MODEL: Type.Optional(Type.String({ minLength: 1, description: "Default tts-1" })),
  MIMIC_TTS_VOICE: Type.Optional(Type.String({ minLength: 1, description: "Default alloy" })),
  MIMIC_TTS_TIMEOUT_MS: Type.Optional(Int("Timeout of one speech synthesis (default 30000)")),
  MIMIC_VOICE_SILENCE_MS: Type.Optional(
    Int("Silence that ends a voice bot's utterance, in ms (default 800)"),
  ),
  MIMIC_WS_MAX_CONNECTIONS: Type.Optional(Int("Concurrent live-event connections per user (default 10)")),
  MIMIC_WS_PING_MS: Type.Optional(
    Int("Live-event keep-alive and credential re-check period (default 30000)"),
  ),
  MIMIC_QUOTA_PERSONAS: Type.Optional(
    Int("Personas per user, deleted ones not counted; 0 = no limit (default 1000)"),
  ),
  MIMIC_QUOTA_AGENTS: Type.Optional(
    Int("Agents per user, deleted ones not counted; 0 = no limit (default 200)"),
  ),
  MIMIC_QUOTA_ACTIVE_SESSIONS: Type.Optional(
    Int("Pending and active sessions per user at once; 0 = no limit (default 500)"),
  ),
  MIMIC_QUOTA_MESSAGES: Type.Optional(
    Int("Stored persona and agent messages per user; 0 = no limit (default 1000000)"),
  ),
  MIMIC_WEB_DIR: Type.Optional(
    Type.String({ description: "The built dashboard served at / (default apps/web/dist; empty: none)" }),
  ),
  MIMIC_DEMO: Type.Optional(Bool),
  MIMIC_DEMO_PORT: Type.Optional(Int("Port of the built-in demo bot (default 4100)")),
  INIT_CWD: Type.Optional(Type.String()),
});
export type Env = Static<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const bool = (value: string | undefined, fallback: boolean) =>
  value === undefined ? fallback : value === "true" || value === "1";
const int = (value: string | undefined, fallback: number) => (value === undefined ? fallback : Number(value));

/** MIMIC_SECRET_KEY and MIMIC_SECRET_KEY_PREVIOUS as keys; a value that is not 32 bytes is a ConfigError (not echoed). */
function parseSecretKeys(env: Env): { current: Buffer | undefined; previous: Buffer[] } {
  const problems: string[] = [];
  const parse = (name: string, text: string) => {
    const key = parseSecretKey(text);
    if (!key) problems.push(`${name}: must be 32 bytes, base64 or hex (e.g. \`openssl rand -base64 32\`)`);
    return key;
  };
  const current = env.MIMIC_SECRET_KEY ? parse("MIMIC_SECRET_KEY", env.MIMIC_SECRET_KEY) : undefined;
  const previous = (env.MIMIC_SECRET_KEY_PREVIOUS ?? "")
    .split(",")
    .filter((text) => text.trim())
    .map((text) => parse("MIMIC_SECRET_KEY_PREVIOUS", text));
  if (previous.length > 0 && !env.MIMIC_SECRET_KEY)
    problems.push("MIMIC_SECRET_KEY_PREVIOUS: set MIMIC_SECRET_KEY too (the key that replaces it)");
  if (problems.length > 0) throw new ConfigError(problems);
  return { current, previous: previous.filter((key): key is Buffer => key !== undefined) };
}

/** The validated configuration, typed from what loadConfig derives from EnvSchema. */
export type Config = ReturnType<typeof loadConfig>;

/** Reads and validates the environment. Throws ConfigError listing every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env) {
  const raw = Object.fromEntries(
    Object.keys(EnvSchema.properties)
      .map((key) => [key, source[key]] as const)
      .filter(([, value]) => value !== undefined && value !== ""),
  );
  const problems = [...Value.Errors(EnvSchema, raw)].map((e) => {
    const name = e.path.replace(/^\//, "");
    // Never echo a secret's value back in an error message.
    return `${name}: ${e.message}`;
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const env = raw as Env;
  const nodeEnv = env.NODE_ENV ?? "development";
  if (nodeEnv === "production" && !env.MIMIC_JWT_SECRET) {
    throw new ConfigError(["MIMIC_JWT_SECRET: required when NODE_ENV=production (at least 32 characters)"]);
  }
  if (nodeEnv === "production" && env.MIMIC_TEST_TOKEN) {
    throw new ConfigError(["MIMIC_TEST_TOKEN: not allowed when NODE_ENV=production"]);
  }
  const secretKey = parseSecretKeys(env);
  if (nodeEnv === "production" && !secretKey.current) {
    throw new ConfigError([
      "MIMIC_SECRET_KEY: required when NODE_ENV=production (32 bytes, base64 or hex: `openssl rand -base64 32`)",
    ]);
  }
  const concurrency = Math.max(1, int(env.MIMIC_ENGINE_CONCURRENCY, DEFAULT_ENGINE_CONCURRENCY));
  const port = int(env.PORT, 4000);
  if (port > 65535) throw new ConfigError(["PORT: must be between 0 and 65535"]);
  const baseDir = env.INIT_CWD ?? process.cwd();
  return Object.freeze({
    env: nodeEnv as "development" | "production" | "test",
    host: env.HOST ?? "127.0.0.1",
    port,
    databaseUrl: env.DATABASE_URL,
    dataDir: resolve(baseDir, env.MIMIC_DATA_DIR ?? ".mimic/data"),
    jwt: { secret: env.MIMIC_JWT_SECRET, expiresIn: int(env.MIMIC_JWT_EXPIRES_IN, 3600) },
    secretKey,
    allowRegistration: bool(env.MIMIC_ALLOW_REGISTRATION, true),
    testToken: env.MIMIC_TEST_TOKEN,
    rateLimit: {
      user: int(env.MIMIC_RATE_LIMIT_USER, 1000),
      anonymous: int(env.MIMIC_RATE_LIMIT_ANON, 100),
      agent: int(env.MIMIC_RATE_LIMIT_AGENT, 10_000),
      login: int(env.MIMIC_RATE_LIMIT_LOGIN, 20),
      windowSeconds: int(env.MIMIC_RATE_LIMIT_WINDOW, 3600),
    },
    bodyLimit: int(env.MIMIC_BODY_LIMIT, 1024 * 1024),
    logLevel: env.MIMIC_LOG_LEVEL ?? (nodeEnv === "test" ? "silent" : "info"),
    logFormat: env.MIMIC_LOG_FORMAT ?? "json",
    trustProxy: bool(env.MIMIC_TRUST_PROXY, false),
    corsOrigins: (env.MIMIC_CORS_ORIGINS ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    allowPrivateTargets: bool(env.MIMIC_ALLOW_PRIVATE_TARGETS, false),
    shutdownDrainMs: Math.max(0, int(env.MIMIC_SHUTDOWN_DRAIN_MS, 5_000)),
    role: env.MIMIC_ROLE ?? "all",
    engine: {
      concurrency,
      userConcurrency: Math.max(1, int(env.MIMIC_ENGINE_USER_CONCURRENCY, Math.ceil(concurrency / 2))),
      pollIntervalMs: Math.max(10, int(env.MIMIC_ENGINE_POLL_MS, 200)),
      leaseMs: Math.max(1000, int(env.MIMIC_ENGINE_LEASE_MS, 30_000)),
      agentTimeoutMs: Math.max(100, int(env.MIMIC_AGENT_TIMEOUT_MS, 10_000)),
      agentConnectTimeoutMs: Math.max(100, int(env.MIMIC_AGENT_CONNECT_TIMEOUT_MS, 5_000)),
      maxAttempts: Math.max(1, int(env.MIMIC_AGENT_MAX_ATTEMPTS, 3)),
    },
    llm: {
      baseUrl: env.MIMIC_LLM_BASE_URL,
      apiKey: env.MIMIC_LLM_API_KEY ?? "not-needed",
      model: env.MIMIC_LLM_MODEL ?? "gpt-4o-mini",
      timeoutMs: int(env.MIMIC_LLM_TIMEOUT_MS, 30_000),
    },
    /** Voice agents: Mimic hears the bot through STT (required to run them) and speaks with TTS (else flite). */
    voice: {
      stt: env.MIMIC_STT_BASE_URL
        ? {
            baseURL: env.MIMIC_STT_BASE_URL,
            apiKey: env.MIMIC_STT_API_KEY ?? "not-needed",
            model: env.MIMIC_STT_MODEL ?? "whisper-1",
            timeoutMs: Math.max(100, int(env.MIMIC_STT_TIMEOUT_MS, 30_000)),
          }
        : undefined,
      tts: env.MIMIC_TTS_BASE_URL
        ? {
            baseURL: env.MIMIC_TTS_BASE_URL,
            apiKey: env.MIMIC_TTS_API_KEY ?? "not-needed",
            model: env.MIMIC_TTS_MODEL ?? "tts-1",
            voice: env.MIMIC_TTS_VOICE ?? "alloy",
            timeoutMs: Math.max(100, int(env.MIMIC_TTS_TIMEOUT_MS, 30_000)),
          }
        : undefined,
      silenceMs: Math.max(50, int(env.MIMIC_VOICE_SILENCE_MS, 800)),
    },
    wsMaxConnections: int(env.MIMIC_WS_MAX_CONNECTIONS, 10),
    wsPingIntervalMs: Math.max(100, int(env.MIMIC_WS_PING_MS, 30_000)),
    /** Per-user limits (0: none), enforced when something is created: see lib/quotas.ts. */
    quotas: {
      personas: int(env.MIMIC_QUOTA_PERSONAS, 1000),
      agents: int(env.MIMIC_QUOTA_AGENTS, 200),
      activeSessions: int(env.MIMIC_QUOTA_ACTIVE_SESSIONS, 500),
      messages: int(env.MIMIC_QUOTA_MESSAGES, 1_000_000),
    },
    demo: { enabled: bool(env.MIMIC_DEMO, false), port: int(env.MIMIC_DEMO_PORT, 4100) },
    /** The dashboard's build (index.html + assets), served at / when it exists. Tests get none unless they ask. */
    webDir:
      env.MIMIC_WEB_DIR !== undefined
        ? env.MIMIC_WEB_DIR && resolve(baseDir, env.MIMIC_WEB_DIR)
        : nodeEnv === "test"
          ? ""
          : fileURLToPath(new URL("../../web/dist", import.meta.url)),
  });
}
