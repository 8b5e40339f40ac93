// Agent secrets at rest: AES-256-GCM with a random 12-byte IV per value, stored as
// `enc:v1:<keyId>:<iv>:<tag>:<ciphertext>` (base64url). The key id says which key sealed a value, so after a rotation
// (MIMIC_SECRET_KEY new, MIMIC_SECRET_KEY_PREVIOUS old) older values still open while every write uses the new key.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { AgentConfig, AgentType, TypedAgentConfig } from "@mimic/db";
import type { Config } from "../config.js";

const PREFIX = "enc:v1:";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A secret that cannot be opened: sealed with a key that is not configured, or altered. */
export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretKeyError";
  }
}

export interface SecretKeyring {
  /** Id of the key that seals new values. */
  readonly currentId: string;
  /** Every key that may open a value, by id (the current one included). */
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** 32 bytes given as base64 (or base64url) or hex; undefined for anything else. */
export function parseSecretKey(text: string): Buffer | undefined {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const key = Buffer.from(value, "base64");
    if (key.length === KEY_BYTES) return key;
  }
  return undefined;
}

/** A short public name for a key (a hash prefix: it tells keys apart and reveals nothing usable). */
export const secretKeyId = (key: Buffer) =>
  createHash("sha256").update("mimic-secret-key-id\0").update(key).digest("hex").slice(0, 12);

export function createKeyring(current: Buffer, previous: readonly Buffer[] = []): SecretKeyring {
  const keys = new Map<string, Buffer>();
  for (const key of [current, ...previous]) {
    if (key.length !== KEY_BYTES) throw new SecretKeyError(`a secret key must be ${KEY_BYTES} bytes`);
    if (!keys.has(secretKeyId(key))) keys.set(secretKeyId(key), key);
  }
  return { currentId: secretKeyId(current), keys };
}

export const isSealed = (value: string) => value.startsWith(PREFIX);

/** Sealed with the current key: nothing to do for it at a rotation. */
export const isSealedWithCurrent = (ring: SecretKeyring, value: string) =>
  value.startsWith(`${PREFIX}${ring.currentId}:`);

export function sealSecret(ring: SecretKeyring, plaintext: string): string {
  const key = ring.keys.get(ring.currentId)!;
  const header = `${PREFIX}${ring.currentId}`;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(header));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [
    header,
    iv.toString("base64url"),
    cipher.getAuthTag().toString("base64url"),
    ciphertext.toString("base64url"),
  ].join(":");
}

/** The plaintext of a stored value. A value without the `enc:` prefix was written before encryption: as it is. */
export function openSecret(ring: SecretKeyring | (() => SecretKeyring), stored: string): string {
  if (!isSealed(stored)) return stored;
  const parts = stored.slice(PREFIX.length).split(":");
  if (parts.length !== 4) throw new SecretKeyError("a stored secret is malformed");
  const [id, iv, tag, ciphertext] = parts as [string, string, string, string];
  const key = (typeof ring === "function" ? ring() : ring).keys.get(id);
  if (!key)
    throw new SecretKeyError(
      `a stored secret was encrypted with key ${id}, which is not configured (set MIMIC_SECRET_KEY_PREVIOUS to it)`,
    );
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(`${PREFIX}${id}`));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    throw new SecretKeyError(
      `a stored secret does not open with key ${id} (altered, or another key with that id)`,
    );
  }
}

function readKeyFile(file: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const key = parseSecretKey(text);
  if (!key)
    throw new SecretKeyError(
      `${file} does not hold a 32-byte key: restore it, or set MIMIC_SECRET_KEY (secrets sealed with the lost key must be entered again)`,
    );
  return key;
}

/** Creates the key file whole or not at all (a link is atomic), so processes starting together agree on one key. */
function generateKeyFile(file: string): Buffer {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.secret-key.${process.pid}.${randomBytes(4).toString("hex")}`);
  writeFileSync(temp, `${randomBytes(KEY_BYTES).toString("base64")}\n`, { mode: 0o600 });
  try {
    linkSync(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  return readKeyFile(file)!;
}

/**
 * The keys from the config; without MIMIC_SECRET_KEY (never in production: config refuses it), one generated on
 * first start and kept in the data dir like the JWT secret. A generated key keeps opening what it sealed after
 * MIMIC_SECRET_KEY is set, so moving to a configured key needs no step of its own.
 */
export function resolveSecretKeyring(config: Config): SecretKeyring {
  const { current, previous } = config.secretKey;
  const file = join(config.dataDir, "secret-key");
  if (current) {
    const generated = config.env === "production" ? undefined : readKeyFile(file);
    return createKeyring(current, generated ? [...previous, generated] : previous);
  }
  if (config.env === "production") throw new SecretKeyError("MIMIC_SECRET_KEY is required in production");
  return createKeyring(readKeyFile(file) ?? generateKeyFile(file), previous);
}

// The keys travel with the database whose rows they seal: the API's services and the engine are handed the
// database, and whoever holds it can open its secrets. Resolved on first use (building the app for `pnpm gen`
// touches no key).
const keyrings = new WeakMap<object, () => SecretKeyring>();

/** Makes `resolve`'s keys seal and open this database's secrets (resolved once, on first use). */
export function bindKeyring(db: object, resolve: () => SecretKeyring) {
  let ring: SecretKeyring | undefined;
  keyrings.set(db, () => {
    ring ??= resolve();
    return ring;
  });
}

export function keyringOf(db: object): SecretKeyring {
  const resolve = keyrings.get(db);
  if (!resolve) throw new SecretKeyError("no secret key is configured for this database");
  return resolve();
}

/** Config fields whose values are secrets; header values are secrets too. */
export const AGENT_SECRET_FIELDS = ["api_key", "secret", "app_secret", "verify_token"] as const;

/** A copy of `config` with `fn` applied to every secret value (the secret fields and each header value). */
export function mapSecrets<C extends AgentConfig>(
  config: C,
  fn: (value: string, field: string) => string,
): C {
  const out: Record<string, unknown> = { ...config };
  for (const field of AGENT_SECRET_FIELDS) {
    const value = out[field];
    if (typeof value === "string") out[field] = fn(value, field);
  }
  const headers = out.headers;
  if (headers && typeof headers === "object") {
    out.headers = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [
        name,
        typeof value === "string" ? fn(value, `headers.${name}`) : value,
      ]),
    );
  }
  // Same keys, strings replaced by strings: still a C.
  return out as C;
}

/** `config` as written by a user (plaintext): every secret sealed with the current key, whatever it looks like. */
export function sealAgentConfig<C extends AgentConfig>(db: object, config: C): C {
  const ring = keyringOf(db);
  return mapSecrets(config, (value) => sealSecret(ring, value));
}

/**
 * A stored config with every secret sealed with the current key: plaintext (written before encryption) sealed,
 * values sealed with an older key opened and sealed again. Throws SecretKeyError for a value no key opens.
 */
export function resealAgentConfig<C extends AgentConfig>(db: object, config: C): C {
  const ring = keyringOf(db);
  return mapSecrets(config, (value) =>
    isSealedWithCurrent(ring, value) ? value : sealSecret(ring, openSecret(ring, value)),
  );
}

/** Every secret in plaintext. Throws SecretKeyError when one cannot be opened. */
export function openAgentConfig<C extends AgentConfig>(db: object, config: C): C {
  return mapSecrets(config, (value) => openSecret(() => keyringOf(db), value));
}

/** Whether some secret of `config` is not sealed with the current key (plaintext, or an older key). */
export function needsSealing(ring: SecretKeyring, config: AgentConfig): boolean {
  let found = false;
  mapSecrets(config, (value) => {
    if (!isSealedWithCurrent(ring, value)) found = true;
    return value;
  });
  return found;
}

/** The engine's view of an agent row: secrets opened, `config` typed by `type`. Throws SecretKeyError. */
export function openAgent(
  db: object,
  row: { id: string; type: AgentType; config: AgentConfig },
): { id: string } & TypedAgentConfig {
  // Type and config were validated together when the row was written: they belong together.
  const typed = { type: row.type, config: openAgentConfig(db, row.config) } as TypedAgentConfig;
  return { id: row.id, ...typed };
}

/** The agent's `api_key` in plaintext, or undefined (none, or it cannot be opened). */
export function agentKeyOf(db: object, config: AgentConfig): string | undefined {
  if (typeof config.api_key !== "string") return undefined;
  try {
    return openSecret(() => keyringOf(db), config.api_key);
  } catch {
    return undefined;
  }
}
