// `pnpm dev`'s demo with an STT endpoint configured: beside the webhook and WhatsApp bots, a voice bot that Mimic
// calls, and a live voice session with the demo persona.
import { createServer } from "node:net";
import { agents, sessions } from "@mimic/db";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { DemoBot } from "../../src/demo/bot.js";
import { demoReply } from "../../src/demo/bot.js";
import { startDemo } from "../../src/demo/seed.js";
import { ENGINE_ENV } from "../engine/fixtures.js";
import { createTestApp, type TestContext } from "../helpers.js";
import { type SttServer, startSttServer } from "../support/stt-server.js";

const GREETING = "Thanks for calling ShopCo, this is Ava. How can I help?";

/** Three free ports in a row: the demo's bots listen on MIMIC_DEMO_PORT, +1 and +2. */
async function freePorts(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(
      [0, 1, 2].map(
        (i) =>
          new Promise<boolean>((resolve) => {
            const server = createServer();
            server.once("error", () => resolve(false));
            server.listen(base + i, "127.0.0.1", () => server.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return base;
  }
  throw new Error("no three free ports in a row");
}

let ctx: TestContext;
let stt: SttServer;
let demo: DemoBot | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  // What the demo bot can say: its greeting and the answer to anything it could not make out.
  stt = await startSttServer({ phrases: [GREETING, demoReply("")] });
  env = {
    ...ENGINE_ENV,
    MIMIC_AGENT_TIMEOUT_MS: "15000",
    MIMIC_DEMO_PORT: String(await freePorts()),
    MIMIC_STT_BASE_URL: stt.url,
    MIMIC_VOICE_SILENCE_MS: "500",
  };
  ctx = await createTestApp(env, { engine: true });
}, 30_000);
afterAll(async () => {
  await demo?.close();
  await ctx.close();
  await stt.close();
});

it("runs a voice session against the demo voice bot when STT is configured", async () => {
  const config = loadConfig({ NODE_ENV: "test", ...env });
  // Listening for real: the WhatsApp demo bot beside it calls Mimic's Graph surface.
  const baseUrl = await ctx.app.listen({ host: "127.0.0.1", port: 0 });
  demo = await startDemo(ctx.app, ctx.db, config, baseUrl);
  const [agent] = await ctx.db.db.select().from(agents).where(eq(agents.name, "ShopCo voice bot"));
  expect(agent).toMatchObject({ type: "voice" });
  expect(agent!.config).toMatchObject({ url: `ws://127.0.0.1:${config.demo.port + 2}/media` });
  const [session] = await ctx.db.db
    .select()
    .from(sessions)
    .where(and(eq(sessions.agentId, agent!.id)));
  expect(session!.checks).toEqual(
    expect.arrayContaining([{ type: "voice_valid" }, { type: "first_audio_within", ms: 2000 }]),
  );
  // The bot greets; the persona's first line is no phrase the test STT server knows, so the bot asks for more.
  await expect
    .poll(
      async () => {
        const res = await ctx.app.inject({
          method: "GET",
          url: `/api/sessions/${session!.id}/messages`,
          headers: { authorization: `Bearer ${ctx.app.signAccessToken(session!.userId)}` },
        });
        return (res.json() as { data: { senderType: string; content: string }[] }).data
          .filter((m) => m.senderType === "agent")
          .map((m) => m.content);
      },
      { timeout: 40_000, interval: 500 },
    )
    .toEqual(expect.arrayContaining([GREETING, demoReply("")]));
}, 60_000);
