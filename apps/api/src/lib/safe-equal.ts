import { timingSafeEqual } from "node:crypto";

/** Compares secrets in constant time (for equal lengths), so a wrong guess teaches nothing by its timing. */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
