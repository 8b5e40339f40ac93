// Fixtures for the dashboard's browser tests: users made through the SDK, pages already signed in, data seeded
// through the public API, and what the browser printed.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Agent, MimicClient, type Persona, type SessionDetail } from "@mimic/sdk";
import type { Browser, BrowserContext, Page } from "playwright-core";

export const PASSWORD = "correct horse battery staple";

export interface User {
  email: string;
  token: string;
  client: MimicClient;
}

export async function newUser(baseUrl: string): Promise<User> {
  const email = `web-${randomUUID().slice(0, 8)}@example.com`;
  const anonymous = new MimicClient({ baseUrl });
  const { access_token: token } = await anonymous.auth.register({ email, password: PASSWORD });
  return { email, token, client: new MimicClient({ baseUrl, token }) };
}

export interface Tab {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught exceptions of the page so far. */
  errors: string[];
  close(): Promise<void>;
}

/** A new browser context (signed in with `token`, when given) and a page in it, collecting errors. */
export async function openTab(
  browser: Browser,
  options: { token?: string; width?: number; height?: number; colorScheme?: "light" | "dark" } = {},
): Promise<Tab> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 860 },
    reducedMotion: "reduce",
    colorScheme: options.colorScheme ?? "light",
  });
  if (options.token) {
    await context.addInitScript((token) => {
      if (!sessionStorage.getItem("seeded")) {
        localStorage.setItem("mimic.token", token);
        sessionStorage.setItem("seeded", "1");
      }
    }, options.token);
  }
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  return { page, context, errors, close: () => context.close() };
}

export const PERSONA = {
  name: "Late parcel Lucy",
  description: "Ordered headphones ten days ago; the parcel is late",
  prompt: "You ordered wireless headphones ten days ago and the parcel is late. You want it sorted out.",
  goal: "get a new delivery date",
  traits: { communication_style: "direct", patience_level: "medium", urgency: "high" },
};

export async function seedPair(user: User, botUrl: string): Promise<{ persona: Persona; agent: Agent }> {
  const [persona, agent] = await Promise.all([
    user.client.personas.create(PERSONA),
    user.client.agents.create({
      name: "ShopCo support bot",
      type: "webhook",
      config: { webhook_url: botUrl },
    }),
  ]);
  return { persona, agent };
}

/** Polls until `check` returns something, or fails after `timeoutMs`. */
export async function waitUntil<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts a quick session and waits for its verdict. */
export async function runSession(
  user: User,
  pair: { persona: Persona; agent: Agent },
  extra: { repeat?: number } = {},
): Promise<SessionDetail> {
  const session = await user.client.sessions.create({
    personaId: pair.persona.id,
    agentId: pair.agent.id,
    config: { messageInterval: 0, maxMessages: 16, replyTimeout: 5 },
    ...extra,
  });
  return waitUntil(async () => {
    const current = await user.client.sessions.get(session.id);
    return current.result ? current : undefined;
  });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA rules, and best practice). */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`,
    );
}
