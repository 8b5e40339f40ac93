import { createHash } from "node:crypto";

/**
 * A name-based UUID (RFC 4122 version 5 layout over SHA-1): the same session and turn always give the same
 * message id, so a turn replayed after a crash writes nothing twice.
 */
export function stableId(...parts: (string | number)[]): string {
  const hash = createHash("sha1")
    .update(`mimic:${parts.join(":")}`)
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
