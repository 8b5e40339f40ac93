// The dashboard end to end, in a real browser (Debian's Chromium through playwright-core) against the real API
// serving the built app, with a real bot: each test is one user's story, on an account of its own.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type Stack, startStack } from "../scripts/stack.js";
import {
  axeViolations,
  newUser,
  openTab,
  PASSWORD,
  PERSONA,
  runSession,
  seedPair,
  type User,
  waitUntil,
} from "./helpers.js";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

const heading = (page: Page, name: string | RegExp) => page.getByRole("heading", { level: 1, name });
/** Chromium logs every 4xx response as a console error; a test that expects one says so. */
const unexpected = (errors: string[], ...statuses: number[]) =>
  errors.filter((e) => !statuses.some((status) => e.includes(`status of ${status}`)));

describe("signing in", () => {
  it("registers a new account and lands on the sessions page", async () => {
    const tab = await openTab(browser);
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/sessions`);
    // Not signed in: the sign-in page, which links to registration.
    await heading(page, "Sign in to Mimic").waitFor();
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Email").fill(`new-${Date.now()}@example.com`);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await heading(page, "Sessions").waitFor();
    await page.getByText("No sessions yet.").waitFor();
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("shows the API's reason on the field when registration is refused", async () => {
    const tab = await openTab(browser);
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/register`);
    await page.getByLabel("Email").fill(`short-${Date.now()}@example.com`);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    const password = page.getByLabel("Password");
    await expect.poll(() => password.getAttribute("aria-invalid")).toBe("true");
    const describedBy = (await password.getAttribute("aria-describedby")) ?? "";
    const error = page.locator(`[id="${describedBy.split(" ").at(-1)}"]`);
    expect(await error.textContent()).toMatch(/\d+ characters/);
    expect(unexpected(tab.errors, 422)).toEqual([]);
    await tab.close();
  });

  it("returns to sign-in when the API refuses the token (401), and back after signing in", async () => {
    const user = await newUser(stack.baseUrl);
    const { key, id } = await user.client.apiKeys.create({ name: "browser" });
    const tab = await openTab(browser, { token: key });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/personas`);
    await heading(page, "Personas").waitFor();
    await user.client.apiKeys.revoke(id);
    // The next call with the revoked key gets 401. Open another page by URL rather than through the menu: a
    // background call (the live connection) may hit the 401 first and sign out before a click could land — the
    // reload then still says why (the reason is kept for the tab).
    await page.goto(`${stack.baseUrl}/agents`);
    await heading(page, "Sign in to Mimic").waitFor();
    await page.getByText("Your session has ended").waitFor();
    await page.reload();
    await heading(page, "Sign in to Mimic").waitFor();
    await page.getByText("Your session has ended").waitFor();
    await page.getByLabel("Email").fill(user.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await heading(page, "Agents").waitFor();
    expect(unexpected(tab.errors, 401)).toEqual([]);
    await tab.close();
  });
});

describe("a session, start to verdict", () => {
  it("creates a persona and an agent, starts a session, shows its messages live and then the verdict", async () => {
    const user = await newUser(stack.baseUrl);
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;

    await page.goto(`${stack.baseUrl}/personas/new`);
    await page.getByLabel("Name", { exact: true }).fill(PERSONA.name);
    await page.getByLabel("Prompt").fill(PERSONA.prompt);
    await page.getByLabel("Goal (optional)").fill(PERSONA.goal);
    await page.getByRole("button", { name: "Create persona" }).click();
    await heading(page, "Personas").waitFor();
    await page.getByRole("link", { name: PERSONA.name, exact: true }).waitFor();

    await page.goto(`${stack.baseUrl}/agents/new`);
    await page.getByLabel("Name", { exact: true }).fill("ShopCo support bot");
    await page.getByLabel("Webhook URL").fill(stack.bot.url);
    await page.getByLabel("Signing secret").fill("whsec_test_secret_value_1234");
    await page.getByRole("button", { name: "Create agent" }).click();
    await heading(page, "Agents").waitFor();
    await page.getByRole("link", { name: "ShopCo support bot", exact: true }).waitFor();
    const [agent] = (await user.client.agents.list()).data;
    // The secret went in; only its mask comes back.
    expect(agent?.type === "webhook" && agent.config.secret).toMatch(/^\*{4}/);

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sessions" }).click();
    await page.getByRole("link", { name: "Start a session" }).first().click();
    await heading(page, "Start a session").waitFor();
    await page.getByLabel("Interval (s)").fill("1");
    await page.getByLabel("Max messages").fill("16");
    await page.getByRole("button", { name: "Add a check" }).click();
    await page.getByLabel("Milliseconds").fill("5000");
    await page.getByRole("button", { name: "Start", exact: true }).click();

    // The session page, while it runs: messages arrive through the live connection.
    await heading(page, `${PERSONA.name} → ShopCo support bot`).waitFor();
    const transcript = page.getByRole("log", { name: "Messages" });
    await transcript.locator(".message-agent").first().waitFor();
    const shownAtFirstReply = await transcript.locator("li.message").count();
    await expect
      .poll(() => transcript.locator(".message-agent .message-meta").first().textContent())
      .toMatch(/replied in \d+ ms/);

    // The verdict, with each check and its detail.
    const verdict = page.getByRole("region", { name: "Verdict" });
    await verdict.locator(".verdict-big", { hasText: "Passed" }).waitFor({ timeout: 30_000 });
    await expect.poll(() => verdict.locator(".check-result").count()).toBeGreaterThanOrEqual(3);
    expect(await verdict.textContent()).toMatch(/goal/i);
    await page.locator(".session-meta .badge", { hasText: "Completed" }).waitFor();

    // Every message the API has, shown once.
    const [session] = (await user.client.sessions.list()).data;
    const detail = await user.client.sessions.get(session!.id);
    await expect.poll(() => transcript.locator("li.message").count()).toBe(detail.messages.length);
    // The rest arrived while the page was open: no reload, no navigation.
    expect(detail.messages.length).toBeGreaterThan(shownAtFirstReply);

    // Figures, search within the session, and an export.
    const figures = page.getByRole("region", { name: "Figures" });
    await figures.getByText("Reply latency p95").waitFor();
    const search = page.getByRole("search", { name: "Search this session" });
    await search.getByLabel("Words to find").fill("delivery");
    await search.getByRole("button", { name: "Search" }).click();
    await page.locator(".search-results mark").first().waitFor();
    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export as Markdown" }).click();
    expect((await download).suggestedFilename()).toMatch(/^mimic-session-.*\.md$/);

    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("stops a running session", async () => {
    const user = await newUser(stack.baseUrl);
    const pair = await seedPair(user, stack.bot.url);
    const session = await user.client.sessions.create({
      personaId: pair.persona.id,
      agentId: pair.agent.id,
      config: { messageInterval: 5, maxMessages: 50 },
    });
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/sessions/${session.id}`);
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Stop this session?" });
    await dialog.getByRole("button", { name: "Stop session" }).click();
    await page.locator(".session-meta .badge", { hasText: "Stopped" }).waitFor();
    expect((await user.client.sessions.get(session.id)).status).toBe("stopped");
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("shows that the live connection is lost, reconnects, and catches up on what it missed", async () => {
    const user = await newUser(stack.baseUrl);
    const pair = await seedPair(user, stack.bot.url);
    const session = await user.client.sessions.create({
      personaId: pair.persona.id,
      agentId: pair.agent.id,
      config: { messageInterval: 1, maxMessages: 16 },
    });
    const tab = await openTab(browser, { token: user.token });
    const { page, context } = tab;
    await page.goto(`${stack.baseUrl}/sessions/${session.id}`);
    const live = page.locator(".live");
    await page.locator('.live[data-state="live"]').waitFor();

    // Offline, the connection cannot come back until the test says so.
    await context.setOffline(true);
    stack.dropLiveConnections();
    await page.locator('.live[data-state="reconnecting"]').waitFor();
    expect(await live.textContent()).toMatch(/reconnecting/i);
    // Messages go on meanwhile, unseen.
    const before = (await user.client.sessions.get(session.id)).messages.length;
    await waitUntil(async () =>
      (await user.client.sessions.get(session.id)).messages.length > before ? true : undefined,
    );
    await context.setOffline(false);

    // Back: what was missed is there, in order, once each, while the session still runs.
    const missed = await user.client.sessions.get(session.id);
    const transcript = page.getByRole("log", { name: "Messages" });
    await expect
      .poll(() => transcript.locator("li.message").count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(missed.messages.length);
    const shown = await transcript.locator("li.message").evaluateAll((items) => items.map((item) => item.id));
    expect(shown.slice(0, missed.messages.length)).toEqual(missed.messages.map((m) => `message-${m.id}`));
    expect(new Set(shown).size).toBe(shown.length);
    await user.client.sessions.stop(session.id);
    // Failed fetches while offline are the point of this test.
    expect(tab.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|WebSocket/.test(e))).toEqual([]);
    await tab.close();
  });
});

describe("editing", () => {
  it("shows the API's validation error on the field, and saves once it is fixed", async () => {
    const user = await newUser(stack.baseUrl);
    const { agent } = await seedPair(user, stack.bot.url);
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/agents/${agent.id}`);
    await heading(page, `Edit ${agent.name}`).waitFor();
    const url = page.getByLabel("Webhook URL");
    await url.fill("not a url");
    await page.getByRole("button", { name: "Save changes" }).click();

    // The error summary takes focus and links to the field, which carries the message.
    const summary = page.getByRole("alert").filter({ hasText: "config.webhook_url" });
    await summary.waitFor();
    expect(await summary.evaluate((element) => element === document.activeElement)).toBe(true);
    expect(await url.getAttribute("aria-invalid")).toBe("true");
    const errorId = (await url.getAttribute("aria-describedby"))?.split(" ").at(-1);
    const fieldError = page.locator(`[id="${errorId}"]`);
    expect(await fieldError.textContent()).toBeTruthy();
    await summary.getByRole("link").first().click();
    expect(await url.evaluate((element) => element === document.activeElement)).toBe(true);

    await url.fill(stack.bot.url.replace("/webhook", "/v2/webhook"));
    await page.getByLabel("Name", { exact: true }).fill("ShopCo bot v2");
    await page.getByRole("button", { name: "Save changes" }).click();
    await heading(page, "Agents").waitFor();
    expect((await user.client.agents.get(agent.id)).name).toBe("ShopCo bot v2");
    expect(unexpected(tab.errors, 422)).toEqual([]);
    await tab.close();
  });

  it("saves a persona's voice settings and a voice check, with the API's error on the interrupt field", async () => {
    const user = await newUser(stack.baseUrl);
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/personas/new`);
    await page.getByLabel("Name", { exact: true }).fill(PERSONA.name);
    await page.getByLabel("Prompt").fill(PERSONA.prompt);
    const calls = page.getByRole("group", { name: "Voice calls" });
    const voice = calls.getByLabel("Voice", { exact: true });
    const interrupt = calls.getByLabel("Interrupt the bot after (ms)");
    expect(await voice.inputValue()).toBe("kal");
    await voice.selectOption("slt");
    await interrupt.fill("50");
    const checks = page.getByRole("group", { name: "Default checks" });
    const check = checks.getByLabel("Check 1", { exact: true });
    await checks.getByRole("button", { name: "Add a check" }).click();
    await check.selectOption({ label: "The bot starts speaking within (ms)" });
    await checks.getByLabel("Milliseconds").fill("1500");
    await page.getByRole("button", { name: "Create persona" }).click();

    // Out of range: the API's reason, on the field it names; nothing saved.
    await page.getByRole("alert").filter({ hasText: "config.voice.interruptAfterMs" }).waitFor();
    expect(await interrupt.getAttribute("aria-invalid")).toBe("true");
    const errorId = (await interrupt.getAttribute("aria-describedby"))?.split(" ").at(-1);
    expect(await page.locator(`[id="${errorId}"]`).textContent()).toMatch(/100/);
    expect((await user.client.personas.list()).data).toEqual([]);

    await interrupt.fill("1500");
    await page.getByRole("button", { name: "Create persona" }).click();
    await heading(page, "Personas").waitFor();
    const [persona] = (await user.client.personas.list()).data;
    expect(persona?.config.voice).toEqual({ voice: "slt", interruptAfterMs: 1500 });
    expect(persona?.checks).toEqual([{ type: "first_audio_within", ms: 1500 }]);

    // Back in the form as saved. The default voice and no interruption send no voice settings at all.
    await page.goto(`${stack.baseUrl}/personas/${persona!.id}`);
    await heading(page, `Edit ${PERSONA.name}`).waitFor();
    expect(await voice.inputValue()).toBe("slt");
    expect(await interrupt.inputValue()).toBe("1500");
    expect(await check.inputValue()).toBe("first_audio_within");
    await voice.selectOption("kal");
    await interrupt.fill("");
    await page.getByRole("button", { name: "Save changes" }).click();
    await heading(page, "Personas").waitFor();
    const saved = await user.client.personas.get(persona!.id);
    expect(saved.config.voice).toBeUndefined();
    expect(saved.checks).toEqual([{ type: "first_audio_within", ms: 1500 }]);
    expect(unexpected(tab.errors, 422)).toEqual([]);
    await tab.close();
  });

  it("creates an API key, shows it once, and revokes it", async () => {
    const user = await newUser(stack.baseUrl);
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/settings/api-keys`);
    await page.getByLabel("Name").fill("github-actions");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await page.locator("code.secret").textContent();
    expect(key).toMatch(/^mk_/);
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.getByText(key!).count()).toBe(0);
    await page.getByRole("button", { name: "Revoke github-actions" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
    await page.getByText("No keys yet.").waitFor();
    expect((await user.client.apiKeys.list()).data).toEqual([]);
    expect(tab.errors).toEqual([]);
    await tab.close();
  });
});

describe("pages with data", () => {
  let user: User;
  let sessionId: string;
  let groupId: string;
  let agentId: string;
  let personaId: string;

  beforeAll(async () => {
    user = await newUser(stack.baseUrl);
    const pair = await seedPair(user, stack.bot.url);
    agentId = pair.agent.id;
    personaId = pair.persona.id;
    const [single, repeated] = await Promise.all([
      runSession(user, pair),
      runSession(user, pair, { repeat: 2 }),
    ]);
    sessionId = single.id;
    groupId = repeated.groupId!;
    await user.client.apiKeys.create({ name: "ci" });
  });

  it("analytics draw their charts and per-agent latency", async () => {
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/analytics`);
    await heading(page, "Analytics").waitFor();
    await expect.poll(() => page.locator(".chart-canvas canvas").count()).toBe(2);
    expect(await page.locator(".kpi").first().textContent()).toBe("Sessions3");
    await page.getByRole("table", { name: "Per agent" }).getByText("ShopCo support bot").waitFor();
    await page.getByRole("button", { name: "7 days" }).click();
    await expect.poll(() => page.locator(".chart-canvas canvas").count()).toBe(2);
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("lists sessions with filters and shows a repeat group's pass rate", async () => {
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/sessions`);
    await expect.poll(() => page.locator("tbody tr").count()).toBe(3);
    await page.getByLabel("Status").selectOption("stopped");
    await page.getByText("No session matches these filters.").waitFor();
    await page.getByLabel("Status").selectOption("completed");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(3);
    await page.getByLabel("From (UTC day)").fill("2000-01-01");
    await page.getByLabel("To (UTC day)").fill("2000-01-02");
    await page.getByText("No session matches these filters.").waitFor();

    await page.goto(`${stack.baseUrl}/groups/${groupId}`);
    await heading(page, /Repeat group/).waitFor();
    await page.getByText("100%").waitFor();
    await page.getByRole("heading", { name: "pass^k" }).waitFor();
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("searches across sessions and highlights the matches", async () => {
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/search`);
    await page.getByLabel("Words").fill("delivery date");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByText(/messages? match/).waitFor();
    expect(await page.locator(".search-hit mark").count()).toBeGreaterThan(0);
    await page.getByRole("link", { name: "Open the session" }).first().click();
    await page.getByRole("region", { name: "Verdict" }).waitFor();
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("works at 390 px: the navigation folds into a menu and nothing scrolls sideways", async () => {
    const tab = await openTab(browser, { token: user.token, width: 390, height: 844 });
    const { page } = tab;
    for (const path of ["/sessions", `/sessions/${sessionId}`, "/analytics", `/agents/${agentId}`]) {
      await page.goto(`${stack.baseUrl}${path}`);
      await page.locator("h1").waitFor();
      await page.waitForLoadState("networkidle");
      expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
    }
    const menu = page.getByRole("button", { name: "Menu" });
    const personas = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Personas" });
    expect(await personas.isVisible()).toBe(false);
    await menu.click();
    expect(await menu.getAttribute("aria-expanded")).toBe("true");
    await personas.click();
    await heading(page, "Personas").waitFor();
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("can be driven from the keyboard: skip link first, then the navigation", async () => {
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/sessions`);
    await heading(page, "Sessions").waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    await tab.close();
  });

  it("every page passes axe-core with no serious or critical violations", async () => {
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    const pages = [
      "/sessions",
      "/sessions/new",
      `/sessions/${sessionId}`,
      `/groups/${groupId}`,
      "/personas",
      "/personas/new",
      `/personas/${personaId}`,
      "/agents",
      "/agents/new",
      `/agents/${agentId}`,
      `/agents/${agentId}/report`,
      "/analytics",
      "/search?q=delivery",
      "/settings/api-keys",
    ];
    const found: Record<string, string[]> = {};
    for (const path of pages) {
      await page.goto(`${stack.baseUrl}${path}`);
      await page.locator("h1").waitFor();
      await page.waitForLoadState("networkidle");
      const violations = await axeViolations(page);
      if (violations.length > 0) found[path] = violations;
    }
    const anonymous = await openTab(browser);
    for (const path of ["/sign-in", "/register"]) {
      await anonymous.page.goto(`${stack.baseUrl}${path}`);
      await anonymous.page.locator("h1").waitFor();
      const violations = await axeViolations(anonymous.page);
      if (violations.length > 0) found[path] = violations;
    }
    // The dark theme keeps its contrast too.
    const dark = await openTab(browser, { token: user.token, colorScheme: "dark" });
    for (const path of ["/sessions", `/sessions/${sessionId}`, "/analytics"]) {
      await dark.page.goto(`${stack.baseUrl}${path}`);
      await dark.page.locator("h1").waitFor();
      await dark.page.waitForLoadState("networkidle");
      const violations = await axeViolations(dark.page);
      if (violations.length > 0) found[`${path} (dark)`] = violations;
    }
    expect(found).toEqual({});
    expect([...tab.errors, ...anonymous.errors, ...dark.errors]).toEqual([]);
    await dark.close();
    await anonymous.close();
    await tab.close();
  });
});
