// `pnpm screenshots`: the README's pictures of the dashboard, taken from a real run — the built app served by the
// API, sessions played by the engine against a support bot, Debian's Chromium at 1280 px (and 390 px for phones).
// Writes apps/web/screenshots/*.png.
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { MimicClient } from "@mimic/sdk";
import type { Page } from "playwright-core";
import { launchChromium, startStack } from "./stack.js";

const OUT = fileURLToPath(new URL("../screenshots/", import.meta.url));
const PASSWORD = "correct horse battery staple";

async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting for the seed data");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const stack = await startStack();
const browser = await launchChromium();
try {
  await mkdir(OUT, { recursive: true });
  const anonymous = new MimicClient({ baseUrl: stack.baseUrl });
  const email = "ada@shopco.dev";
  const { access_token: token } = await anonymous.auth.register({ email, password: PASSWORD, name: "Ada" });
  const client = new MimicClient({ baseUrl: stack.baseUrl, token });

  // What a team testing its support bot would have after a morning's work.
  const lucy = await client.personas.create({
    name: "Late parcel Lucy",
    description: "Ordered headphones ten days ago; the parcel is late",
    prompt: "You ordered wireless headphones ten days ago and the parcel is late. You want it sorted out.",
    goal: "get a new delivery date",
    traits: { communication_style: "direct", patience_level: "medium", urgency: "high" },
  });
  const ravi = await client.personas.create({
    name: "Refund Ravi",
    description: "Wants his money back for a broken kettle",
    prompt: "Your new kettle stopped working after two days. You want a refund, not a replacement.",
    goal: "get a refund",
    traits: { communication_style: "polite", patience_level: "high", urgency: "low" },
  });
  await client.personas.create({
    name: "Impatient Ivy",
    description: "Short on time, short on patience",
    prompt: "You were charged twice for one order and you are angry about it.",
    goal: "get the double charge reversed",
    traits: { communication_style: "blunt", patience_level: "low", urgency: "high" },
  });
  const shopco = await client.agents.create({
    name: "ShopCo support bot",
    type: "webhook",
    config: { webhook_url: stack.bot.url, secret: "whsec_shopco_signing_secret_4242" },
  });
  const legacy = await client.agents.create({
    name: "Legacy FAQ bot",
    type: "webhook",
    config: { webhook_url: stack.bot.url.replace("/webhook", "/legacy") },
  });
  await client.agents.create({
    name: "ShopCo WhatsApp",
    type: "whatsapp",
    status: "inactive",
    config: {
      webhook_url: "https://bot.shopco.example/whatsapp",
      phone_number: "+15551234567",
      api_key: "EAAG-demo-key-7890",
    },
  });
  const quick = { messageInterval: 0.3, maxMessages: 16, replyTimeout: 5 };
  const finished = await Promise.all([
    client.sessions.create({
      personaId: lucy.id,
      agentId: shopco.id,
      config: quick,
      checks: [{ type: "reply_within", ms: 2000 }],
    }),
    client.sessions.create({ personaId: ravi.id, agentId: shopco.id, config: quick }),
    client.sessions.create({ personaId: lucy.id, agentId: legacy.id, config: quick }),
    client.sessions.create({ personaId: ravi.id, agentId: shopco.id, config: quick, repeat: 4 }),
  ]);
  await until(async () => {
    const { data } = await client.sessions.list({ limit: 50 });
    return data.every((s) => s.status !== "pending" && s.status !== "active") ? true : undefined;
  });
  await client.apiKeys.create({ name: "github-actions", expiresInDays: 90 });
  const [lucySession, , , group] = finished;

  const desktop = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme: "light",
    reducedMotion: "reduce",
  });
  await desktop.addInitScript((t) => localStorage.setItem("mimic.token", t), token);
  const page = await desktop.newPage();
  const shoot = async (
    name: string,
    path: string,
    prepare?: (page: Page) => Promise<void>,
    fullPage = false,
  ) => {
    await page.goto(`${stack.baseUrl}${path}`);
    await page.locator("h1").waitFor();
    await page.waitForLoadState("networkidle");
    await prepare?.(page);
    await page.screenshot({ path: `${OUT}${name}.png`, fullPage });
    console.log(`screenshots/${name}.png`);
  };

  await shoot("sessions", "/sessions");
  await shoot(
    "session",
    `/sessions/${lucySession!.id}`,
    async (p) => {
      await p.getByRole("region", { name: "Verdict" }).locator(".verdict-big").waitFor();
      await p.getByLabel("Words to find").fill("delivery date");
      await p.getByRole("button", { name: "Search", exact: true }).click();
      await p.locator(".search-results mark").first().waitFor();
      await p.evaluate(() => window.scrollTo(0, 0));
    },
    true,
  );
  // A session while it runs: messages arrive live.
  const running = await client.sessions.create({
    personaId: lucy.id,
    agentId: shopco.id,
    config: { messageInterval: 1.5, maxMessages: 16 },
  });
  await shoot("session-live", `/sessions/${running.id}`, async (p) => {
    await p.locator('.live[data-state="live"]').waitFor();
    await p.locator(".message-agent").nth(1).waitFor();
  });
  await shoot("start-session", "/sessions/new");
  await shoot("group", `/groups/${group!.groupId}`);
  await shoot(
    "analytics",
    "/analytics",
    async (p) => {
      await p.getByRole("button", { name: "7 days" }).click();
      await p.locator(".chart-canvas canvas").nth(1).waitFor();
      await p.waitForLoadState("networkidle");
    },
    true,
  );
  await shoot("agent-report", `/agents/${legacy.id}/report`);
  await shoot("search", "/search?q=%22delivery+date%22");
  await shoot("personas", "/personas");
  await shoot("agent-edit", `/agents/${shopco.id}`, async (p) => {
    await p.getByLabel("Webhook URL").fill("bot.shopco.example/webhook");
    await p.getByRole("button", { name: "Save changes" }).click();
    await p.locator(".field-error").first().waitFor();
  });
  await shoot("api-keys", "/settings/api-keys");

  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    reducedMotion: "reduce",
  });
  await phone.addInitScript((t) => localStorage.setItem("mimic.token", t), token);
  const mobile = await phone.newPage();
  await mobile.goto(`${stack.baseUrl}/sessions/${lucySession!.id}`);
  await mobile.getByRole("region", { name: "Verdict" }).locator(".verdict-big").waitFor();
  await mobile.waitForLoadState("networkidle");
  await mobile.screenshot({ path: `${OUT}mobile-session.png` });
  console.log("screenshots/mobile-session.png");
  await client.sessions.stop(running.id);

  const signedOut = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signedOut.goto(`${stack.baseUrl}/sign-in`);
  await signedOut.locator("h1").waitFor();
  await signedOut.screenshot({ path: `${OUT}sign-in.png` });
  console.log("screenshots/sign-in.png");
} finally {
  await browser.close();
  await stack.close();
}
