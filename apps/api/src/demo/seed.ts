// `pnpm dev` on first run: a demo user, persona and agent, then one live session per start, its transcript
// printed to the log as it happens.
import { agents, type MimicDb, personas, users } from "@mimic/db";
import { and, eq, isNull } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config.js";
import { llmAvailability } from "../lib/checks.js";
import { hashPassword } from "../lib/passwords.js";
import { sealAgentConfig } from "../lib/secrets.js";
import { createSession } from "../modules/sessions/service.js";
import { type DemoBot, demoReply, startDemoBot } from "./bot.js";

export const DEMO_EMAIL = "demo@mimic.dev";
export const DEMO_PASSWORD = "mimic-demo-password";
const DEMO_SECRET = "whsec_demo_bot_signing_secret";
const DEMO_AGENT_KEY = "demo-agent-api-key-0001";

/** Starts the demo bot and a session; returns the bot so the caller can close it on shutdown. */
export async function startDemo(
  app: FastifyInstance,
  db: MimicDb,
  config: Config,
  baseUrl: string,
): Promise<DemoBot> {
  const bot = await startDemoBot(config.demo.port, DEMO_SECRET);

  let [user] = await db.db.select().from(users).where(eq(users.email, DEMO_EMAIL));
  if (!user) {
    [user] = await db.db
      .insert(users)
      .values({ email: DEMO_EMAIL, name: "Demo user", passwordHash: await hashPassword(DEMO_PASSWORD) })
      .returning();
  }
  const userId = user!.id;
  let [persona] = await db.db
    .select()
    .from(personas)
    .where(and(eq(personas.userId, userId), eq(personas.name, "Late parcel"), isNull(personas.deletedAt)));
  if (!persona) {
    [persona] = await db.db
      .insert(personas)
      .values({
        userId,
        name: "Late parcel",
        description: "Ordered headphones ten days ago; the parcel has not arrived",
        prompt:
          "You are a customer of an online shop. You ordered wireless headphones ten days ago and the parcel is late. You are polite but you want a clear answer quickly.",
        traits: { communication_style: "direct", patience_level: "low", urgency: "high" },
        goal: "get a new delivery date",
        config: { messageInterval: 2, maxMessages: 16, sessionDuration: 120, replyTimeout: 10 },
      })
      .returning();
  }
  let [agent] = await db.db
    .select()
    .from(agents)
    .where(and(eq(agents.userId, userId), eq(agents.name, "ShopCo demo bot"), isNull(agents.deletedAt)));
  if (!agent || !("webhook_url" in agent.config) || agent.config.webhook_url !== bot.url) {
    if (agent)
      await db.db
        .update(agents)
        .set({ config: { ...agent.config, webhook_url: bot.url } })
        .where(eq(agents.id, agent.id));
    else {
      [agent] = await db.db
        .insert(agents)
        .values({
          userId,
          name: "ShopCo demo bot",
          type: "webhook",
          config: sealAgentConfig(db.db, {
            webhook_url: bot.url,
            secret: DEMO_SECRET,
            api_key: DEMO_AGENT_KEY,
          }),
        })
        .returning();
    }
  }

  // The dev log shows every conversation as it happens.
  app.events.subscribeAll((event) => {
    const short = event.sessionId.slice(0, 8);
    if (event.type === "new_message") {
      const who = { persona: "👤 persona", agent: "🤖 agent  ", system: "⚙️  system " }[event.data.senderType];
      const latency = event.data.latencyMs !== null ? ` (${event.data.latencyMs} ms)` : "";
      app.log.info(`[session ${short}] ${who}: ${event.data.content}${latency}`);
    } else if (event.type === "session_end") {
      const { data } = event;
      app.log.info(
        `[session ${short}] ended ${data.status} (${data.endReason ?? data.status}): ${data.reason} — ${data.messageCount} messages in ${data.duration} s`,
      );
      if (data.result) {
        const checks = data.result.checks
          .map(
            (c) =>
              `${c.status === "passed" ? "✓" : c.status === "skipped" ? "-" : "✗"} ${c.name} (${c.detail})`,
          )
          .join("\n    ");
        app.log.info(
          `[session ${short}] verdict: ${data.result.passed ? "PASSED" : "FAILED"}\n    ${checks}`,
        );
      }
    }
  });

  const session = await createSession(
    db.db,
    userId,
    {
      agentId: agent!.id,
      personaId: persona!.id,
      metadata: { source: "pnpm dev" },
    },
    llmAvailability(config),
  );
  const token = app.signAccessToken(userId);
  app.log.info(
    [
      "",
      `Demo: ${DEMO_EMAIL} / ${DEMO_PASSWORD} — persona "Late parcel" is talking to the demo bot at ${bot.url}`,
      `  session ${session.id} (watch it below, or:)`,
      `  curl -s ${baseUrl}/api/sessions/${session.id} -H "Authorization: Bearer ${token}"`,
      `  start another: curl -s -X POST ${baseUrl}/api/sessions -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" -d '{"agentId":"${agent!.id}","personaId":"${persona!.id}"}'`,
      "",
    ].join("\n"),
  );
  // Beside it, the same persona on WhatsApp (a Cloud API bot whose Graph base URL points at Mimic) and, when an STT
  // endpoint is configured, on the phone (a Twilio Media Streams bot Mimic calls).
  const extras: DemoBot[] = [];
  for (const [channel, start] of [
    ["WhatsApp", startWhatsappDemo],
    ["Voice", startVoiceDemo],
  ] as const) {
    const extra = await start(app, db, config, baseUrl, userId, persona!.id).catch((error: Error) => {
      app.log.warn(`${channel} demo not started: ${error.message}`);
      return undefined;
    });
    if (extra) extras.push(extra);
  }
  return {
    url: bot.url,
    close: async () => {
      for (const extra of extras) await extra.close();
      await bot.close();
    },
  };
}

/** Finds the demo user's agent of that name, or creates it; its config is (re)set either way. */
async function demoAgent(
  db: MimicDb,
  userId: string,
  name: string,
  type: "whatsapp" | "voice",
  config: Record<string, unknown>,
) {
  const sealed = sealAgentConfig(db.db, config);
  let [agent] = await db.db
    .select()
    .from(agents)
    .where(and(eq(agents.userId, userId), eq(agents.name, name), isNull(agents.deletedAt)));
  if (agent) await db.db.update(agents).set({ config: sealed }).where(eq(agents.id, agent.id));
  else [agent] = await db.db.insert(agents).values({ userId, name, type, config: sealed }).returning();
  return agent!;
}

const DEMO_WHATSAPP = {
  phone_number: "+15550100001",
  phone_number_id: "100000000000001",
  api_key: "demo-whatsapp-access-token-0001",
  app_secret: "demo-whatsapp-app-secret-0001",
  verify_token: "demo-whatsapp-verify-token",
};

/** The WhatsApp demo bot (port MIMIC_DEMO_PORT + 1), its agent, and one session with the demo persona. */
async function startWhatsappDemo(
  app: FastifyInstance,
  db: MimicDb,
  config: Config,
  baseUrl: string,
  userId: string,
  personaId: string,
): Promise<DemoBot> {
  // Written with a WhatsApp client library that is a development dependency: loaded only for the demo.
  const { startWhatsappDemoBot } = await import("./whatsapp-bot.js");
  const bot = await startWhatsappDemoBot(config.demo.port + 1, {
    graphBaseUrl: `${baseUrl}/whatsapp`,
    accessToken: DEMO_WHATSAPP.api_key,
    phoneNumberId: DEMO_WHATSAPP.phone_number_id,
    appSecret: DEMO_WHATSAPP.app_secret,
    verifyToken: DEMO_WHATSAPP.verify_token,
  });
  const agent = await demoAgent(db, userId, "ShopCo WhatsApp bot", "whatsapp", {
    webhook_url: bot.url,
    ...DEMO_WHATSAPP,
  });
  const session = await createSession(
    db.db,
    userId,
    { agentId: agent.id, personaId, metadata: { source: "pnpm dev", channel: "whatsapp" } },
    llmAvailability(config),
  );
  app.log.info(
    `Demo: the same persona on WhatsApp, with the Cloud API bot at ${bot.url} (Graph base URL ${baseUrl}/whatsapp) — session ${session.id}`,
  );
  return bot;
}

/**
 * The voice demo bot (port MIMIC_DEMO_PORT + 2), its agent, and one session with the demo persona — only when an
 * STT endpoint is configured (MIMIC_STT_BASE_URL): Mimic hears the bot through it, and so does the bot.
 */
async function startVoiceDemo(
  app: FastifyInstance,
  db: MimicDb,
  config: Config,
  _baseUrl: string,
  userId: string,
  personaId: string,
): Promise<DemoBot | undefined> {
  const stt = config.voice.stt;
  if (!stt) {
    app.log.info(
      "Voice demo: set MIMIC_STT_BASE_URL (an OpenAI-compatible speech-to-text endpoint) to run it",
    );
    return undefined;
  }
  const [{ startVoiceBot }, { createOpenAITranscriber }] = await Promise.all([
    import("./voice-bot.js"),
    import("../channels/voice/stt.js"),
  ]);
  const bot = await startVoiceBot({
    port: config.demo.port + 2,
    transcriber: createOpenAITranscriber(stt),
    greeting: "Thanks for calling ShopCo, this is Ava. How can I help?",
    reply: (heard) => demoReply(heard),
    mark: true,
  });
  const agent = await demoAgent(db, userId, "ShopCo voice bot", "voice", {
    url: bot.url,
    custom_parameters: { store: "shopco" },
  });
  const session = await createSession(
    db.db,
    userId,
    {
      agentId: agent.id,
      personaId,
      metadata: { source: "pnpm dev", channel: "voice" },
      checks: [
        { type: "first_audio_within", ms: 2000 },
        { type: "no_long_silence", ms: 8000 },
      ],
    },
    llmAvailability(config),
  );
  app.log.info(
    `Demo: the same persona on the phone — Mimic calls the Media Streams bot at ${bot.url} — session ${session.id}`,
  );
  return bot;
}
