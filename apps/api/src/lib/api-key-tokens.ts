import { createHash, randomBytes } from "node:crypto";

/** API keys look like `mk_<43 url-safe chars>`: 256 random bits, recognisable in logs and secret scanners. */
export const API_KEY_PREFIX = "mk_";

export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { key, prefix: key.slice(0, 10), hash: hashApiKey(key) };
}

/** Keys carry 256 bits of entropy, so a plain SHA-256 is enough (no password-style stretching needed). */
export const hashApiKey = (key: string) => createHash("sha256").update(key).digest("hex");
