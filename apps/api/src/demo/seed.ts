// `pnpm dev` on first run: a demo user, persona and agent, then one live session per start, its transcript
// printed to the log as it happens.
import { agents, type MimicDb, personas, users } from "@mimic/db";
import { and, eq, isNull } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config.js";
import { hashPassword } from "../lib/passwords.js";
import { createSession } from "../modules/sessions/service.js";
import { type DemoBot, startDemoBot } from "./bot.js";

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
  if (!agent || agent.config.webhook_url !== bot.url) {
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
          config: { webhook_url: bot.url, secret: DEMO_SECRET, api_key: DEMO_AGENT_KEY },
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
    { llmConfigured: config.llm.baseUrl !== undefined },
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
  return bot;
}
