// Voice sessions on the dashboard, in a real browser against the real API and engine: Mimic calls a Twilio Media
// Streams bot on loopback (test/voice-call.ts), so the transcript carries the engine's own timings, findings and
// recorded audio — none of which the public API lets a client write.
import type { CreateSessionRequest, Message, Persona, SessionDetail } from "@mimic/sdk";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VoiceBot } from "../../api/src/demo/voice-bot.js";
import { launchChromium, type Stack, startStack } from "../scripts/stack.js";
import { axeViolations, newUser, openTab, PERSONA, type User, waitUntil } from "./helpers.js";
import { BOT_LINE, type SttStandIn, startLineBot, startSttStandIn, voiceEnv } from "./voice-call.js";

let stack: Stack;
let browser: Browser;
let stt: SttStandIn;
let bot: VoiceBot;

beforeAll(async () => {
  stt = await startSttStandIn();
  // A bot that also sends a broken frame after `start`: the transcript gets a finding.
  [stack, browser, bot] = await Promise.all([
    startStack({ env: voiceEnv(stt) }),
    launchChromium(),
    startLineBot({ badFrames: true }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await bot?.close();
  await stt?.close();
});

const voiceOf = (message: Message) => message.metadata?.voice;
const item = (page: Page, message: Message) => page.locator(`[id="message-${message.id}"]`);
const PLAY = "Play audio of this turn";

describe("a voice session's transcript", () => {
  let user: User;
  /** Keys pressed, a silent turn, a finding. */
  let session: SessionDetail;
  /** A persona that talks over each reply a second into it. */
  let bargedIn: SessionDetail;

  beforeAll(async () => {
    user = await newUser(stack.baseUrl);
    const run = async (persona: Persona, config: CreateSessionRequest["config"]) => {
      const created = await user.client.sessions.create({ personaId: persona.id, agentId: agent.id, config });
      return waitUntil(async () => {
        const current = await user.client.sessions.get(created.id);
        return current.result ? current : undefined;
      }, 90_000);
    };
    const [caller, interrupter, agent] = await Promise.all([
      user.client.personas.create({
        ...PERSONA,
        goal: null,
        script: ["Hello, my parcel is late.", "[silence]", "Here is my account number. [dtmf 4521#]"],
      }),
      user.client.personas.create({
        ...PERSONA,
        name: "Impatient Ivan",
        goal: null,
        script: ["Hello, my parcel is late."],
        config: { voice: { interruptAfterMs: 1000 } },
      }),
      user.client.agents.create({ name: "ShopCo voice bot", type: "voice", config: { url: bot.url } }),
    ]);
    [session, bargedIn] = await Promise.all([
      run(caller, { maxMessages: 5, messageInterval: 0, replyTimeout: 2, duration: 120 }),
      run(interrupter, { maxMessages: 2, messageInterval: 0, replyTimeout: 10, duration: 120 }),
    ]);
  }, 120_000);

  it("shows each turn's voice timings: first audio, keys pressed, silence, and the bot's findings", async () => {
    const { messages } = session;
    const answer = messages.find((m) => m.senderType === "agent" && voiceOf(m)?.firstAudioMs !== undefined);
    const keys = messages.find((m) => voiceOf(m)?.dtmf === "4521#");
    const silent = messages.find((m) => voiceOf(m)?.silent);
    const finding = messages.find((m) => voiceOf(m)?.finding === "bad_frame");
    expect({ answer, keys, silent, finding }, JSON.stringify(messages)).toEqual({
      answer: expect.objectContaining({ content: BOT_LINE }),
      keys: expect.objectContaining({ senderType: "persona" }),
      silent: expect.objectContaining({ senderType: "persona" }),
      finding: expect.objectContaining({ senderType: "system" }),
    });

    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/sessions/${session.id}`);
    const transcript = page.getByRole("log", { name: "Messages" });
    await expect.poll(() => transcript.locator("li.message").count()).toBe(messages.length);

    // On a call the reply's latency is its time to first audio, said once.
    const answerMeta = await item(page, answer!).locator(".message-meta").textContent();
    expect(answerMeta).toMatch(/first audio \d+(\.\d+)? m?s/);
    expect(answerMeta).not.toMatch(/replied in/);
    expect(await item(page, keys!).locator(".message-meta").textContent()).toContain("pressed 4521#");
    expect(await item(page, silent!).locator(".message-meta").textContent()).toContain("stayed silent");
    const badge = item(page, finding!).locator(".message-meta .badge");
    expect(await badge.textContent()).toBe("Finding: Bad frame");
    // The generic list of the metadata stays, for everything the line leaves out.
    const details = item(page, answer!).locator("details.message-details");
    await details.locator("summary").click();
    expect(await details.locator("dt").allTextContents()).toEqual(
      expect.arrayContaining(["voice", "startMs", "endMs", "firstAudioMs", "audio"]),
    );
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("shows a barge-in: when the persona cut in, and how soon the bot stopped", async () => {
    const reply = bargedIn.messages.find((m) => voiceOf(m)?.bargeIn);
    const bargeIn = reply && voiceOf(reply)?.bargeIn;
    if (!reply || !bargeIn) throw new Error(`no barge-in in ${JSON.stringify(bargedIn.messages)}`);
    const { clearedAfterMs } = bargeIn;
    const tab = await openTab(browser, { token: user.token });
    const { page } = tab;
    await page.goto(`${stack.baseUrl}/sessions/${bargedIn.id}`);
    const meta = item(page, reply).locator(".message-meta");
    await meta.waitFor();
    expect(await meta.textContent()).toMatch(
      clearedAfterMs === null
        ? /barged in after \d+(\.\d+)? m?s · kept talking/
        : /barged in after \d+(\.\d+)? m?s · cleared in \d+(\.\d+)? m?s/,
    );
    expect(tab.errors).toEqual([]);
    await tab.close();
  });

  it("plays a turn's audio, loaded through the SDK only when asked for and released when the page goes", async () => {
    const withAudio = session.messages.filter((m) => voiceOf(m)?.audio);
    const answer = withAudio.find((m) => m.senderType === "agent")!;
    const tab = await openTab(browser, { token: user.token });
    const { page, context } = tab;
    // Which object URLs the page revokes (an init script runs outside the page's Content-Security-Policy).
    await context.addInitScript(() => {
      const revoked: string[] = [];
      (window as unknown as { revoked: string[] }).revoked = revoked;
      const revoke = URL.revokeObjectURL.bind(URL);
      URL.revokeObjectURL = (url: string) => {
        revoked.push(url);
        revoke(url);
      };
    });
    const downloads: string[] = [];
    page.on("request", (request) => {
      if (/\/api\/sessions\/[^/]+\/messages\/[^/]+\/audio$/.test(request.url()))
        downloads.push(request.url());
    });
    await page.goto(`${stack.baseUrl}/sessions/${session.id}`);
    const turn = item(page, answer);
    await turn.getByRole("button", { name: PLAY }).waitFor();
    await page.waitForLoadState("networkidle");
    // One control per recorded turn, and nothing downloaded yet.
    expect(await page.getByRole("button", { name: PLAY }).count()).toBe(withAudio.length);
    expect(downloads).toEqual([]);

    // Offline, the download fails: the turn says so, and the control stays for another try.
    await context.setOffline(true);
    await turn.getByRole("button", { name: PLAY }).click();
    const error = turn.getByRole("alert");
    await error.waitFor({ timeout: 15_000 });
    expect(await error.textContent()).toMatch(/could not be loaded/);
    await context.setOffline(false);

    await turn.getByRole("button", { name: PLAY }).click();
    const audio = turn.locator("audio");
    await audio.waitFor();
    expect(await audio.getAttribute("aria-label")).toBe("Audio of this turn");
    expect(await audio.getAttribute("controls")).not.toBeNull();
    const src = (await audio.getAttribute("src")) ?? "";
    expect(src).toMatch(/^blob:/);
    expect(downloads.filter((url) => url.endsWith(`/messages/${answer.id}/audio`)).length).toBeGreaterThan(0);
    // The recording itself plays: as long as the turn was.
    await expect
      .poll(() => audio.evaluate((element: HTMLAudioElement) => element.readyState), {
        timeout: 10_000,
        // The page's Content-Security-Policy (the API's) must let media load from blob: URLs.
        message: `the audio loads (console: ${JSON.stringify(tab.errors)})`,
      })
      .toBeGreaterThanOrEqual(HAVE_METADATA);
    const voice = voiceOf(answer)!;
    const seconds = await audio.evaluate((element: HTMLAudioElement) => element.duration);
    expect(Math.abs(seconds * 1000 - (voice.endMs! - voice.startMs!))).toBeLessThan(100);
    // Only that turn was downloaded.
    expect(new Set(downloads)).toEqual(new Set([downloads[0]]));

    // Leaving the page releases the audio.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sessions" }).click();
    await page.getByRole("heading", { level: 1, name: "Sessions" }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { revoked: string[] }).revoked)).toContain(src);
    expect(tab.errors.filter((e) => !/ERR_INTERNET_DISCONNECTED/.test(e))).toEqual([]);
    await tab.close();
  });

  it("passes axe-core with its voice timings and an audio player open, in both themes", async () => {
    const answer = session.messages.find((m) => m.senderType === "agent" && voiceOf(m)?.audio)!;
    const found: Record<string, string[]> = {};
    for (const colorScheme of ["light", "dark"] as const) {
      const tab = await openTab(browser, { token: user.token, colorScheme });
      const { page } = tab;
      await page.goto(`${stack.baseUrl}/sessions/${session.id}`);
      await item(page, answer).getByRole("button", { name: PLAY }).click();
      await item(page, answer).locator("audio").waitFor();
      await page.waitForLoadState("networkidle");
      const violations = await axeViolations(page);
      if (violations.length > 0) found[colorScheme] = violations;
      expect(tab.errors).toEqual([]);
      await tab.close();
    }
    expect(found).toEqual({});
  });
});

/** HTMLMediaElement.HAVE_METADATA: the duration is known. */
const HAVE_METADATA = 1;
