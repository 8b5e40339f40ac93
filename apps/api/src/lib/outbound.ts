// Outbound targets (agents, LLM endpoints) must not reach the server's own network unless allowed (OWASP SSRF).
// Address classes come from ipaddr.js: only public unicast passes; IPv6 forms that carry an IPv4 address (mapped,
// NAT64, 6to4) are judged by that address, and the ones Mimic cannot judge (IPv4-compatible, IPv4-translated,
// Teredo) are refused.
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/** RFC 4291's deprecated IPv4-compatible addresses (`::a.b.c.d`, `::7f00:1`): ipaddr.js calls them unicast. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR("::/96");
/** RFC 6052's well-known NAT64 prefix: the last 32 bits are the IPv4 address reached. */
const NAT64 = ipaddr.parseCIDR("64:ff9b::/96");

function isPublicIPv4(address: ipaddr.IPv4): boolean {
  return address.range() === "unicast";
}

function isPublicIPv6(address: ipaddr.IPv6): boolean {
  const range = address.range();
  if (range === "ipv4Mapped") return isPublicIPv4(address.toIPv4Address());
  if (range === "6to4") {
    // 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    const [, high = 0, low = 0] = address.parts;
    return isPublicIPv4(new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]));
  }
  if (range === "rfc6052") {
    // Only the well-known /96 has the IPv4 address at a known place; 64:ff9b:1::/48 is for local use.
    if (!address.match(NAT64)) return false;
    const bytes = address.toByteArray();
    return isPublicIPv4(new ipaddr.IPv4(bytes.slice(12)));
  }
  if (range !== "unicast") return false;
  return !address.match(IPV4_COMPATIBLE);
}

/**
 * True for anything but a public unicast address: loopback, private, link-local (169.254.169.254), CGNAT,
 * multicast, broadcast, reserved and unspecified ranges, `0.0.0.0/8`, IPv6 site-local, discard, Teredo, and IPv6
 * forms of such IPv4 addresses. Not an IP address at all: false (names are checked once resolved).
 */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "");
  if (!isIP(bare)) return false;
  const parsed = ipaddr.parse(bare);
  return parsed instanceof ipaddr.IPv4 ? !isPublicIPv4(parsed) : !isPublicIPv6(parsed);
}

/**
 * Checks a URL's host without resolving it: IP literals in any spelling (the URL parser turns `http://2130706433/`
 * and `http://0x7f.1/` into 127.0.0.1, and writes IPv6 in one canonical form) and localhost names. Names that
 * resolve to private addresses are caught at connect time by the engine. An unparsable URL: false.
 */
export function isPrivateUrlHost(url: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  // `[::1]` → `::1`; `localhost.` (a fully qualified name) → `localhost`.
  const bare = hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  return isPrivateAddress(bare);
}

/** Headers Mimic sets itself, or that shape the connection: a user's agent `headers` may not set them. */
const TRANSPORT_HEADERS = new Set([
  "host",
  "content-length",
  "content-type",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "mimic-signature",
]);
const TRANSPORT_PREFIXES = ["proxy-", "x-mimic-", "sec-websocket-"];

/**
 * Whether a user-set agent header would override a transport header (framing, hop-by-hop, WebSocket handshake)
 * or one Mimic owns (its signature, `X-Mimic-*`). `Authorization` is reserved where the agent's `api_key` is sent
 * as the bearer token (`authorizationTaken`).
 */
export function isReservedHeader(name: string, authorizationTaken = false): boolean {
  const lower = name.toLowerCase();
  if (lower === "authorization") return authorizationTaken;
  return TRANSPORT_HEADERS.has(lower) || TRANSPORT_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

/** The user's agent headers without reserved ones (the API refuses them; rows written before are filtered here). */
export function userHeaders(
  headers: Record<string, string> | undefined,
  authorizationTaken = false,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).filter(([name]) => !isReservedHeader(name, authorizationTaken)),
  );
}
