import { createHmac, timingSafeEqual } from "node:crypto";

/** Webhook signatures, Stripe's scheme: `Mimic-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export const SIGNATURE_HEADER = "mimic-signature";
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function signPayload(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${v1}`;
}

/** The check a bot runs on each request (the README shows the same recipe). */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined,
  now = Math.floor(Date.now() / 1000),
): boolean {
  if (!header) return false;
  const fields = new Map(header.split(",").map((kv) => kv.split("=", 2) as [string, string]));
  const t = Number(fields.get("t"));
  const given = fields.get("v1");
  if (!Number.isInteger(t) || !given || Math.abs(now - t) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest();
  const actual = Buffer.from(given, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
