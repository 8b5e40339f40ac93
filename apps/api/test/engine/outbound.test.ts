// Outbound safety at connect time: an agent saved while private targets were allowed (or whose DNS name now
// points inside) is refused when the engine dials it, unless MIMIC_ALLOW_PRIVATE_TARGETS=true.
import { agents } from "@mimic/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardedLookup } from "../../src/engine/outbound.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { createPersona, startSession, waitForEnd } from "./fixtures.js";

let ctx: TestContext;
let user: TestUser;
let bot: WebhookBot;
beforeAll(async () => {
  ctx = await createTestApp(
    { MIMIC_ALLOW_PRIVATE_TARGETS: "false", MIMIC_ENGINE_POLL_MS: "20" },
    { engine: true },
  );
  user = await registerUser(ctx.app);
  bot = await startWebhookBot();
});
afterAll(async () => {
  await ctx.close();
  await bot.close();
});

async function sessionAgainst(config: Record<string, unknown>, type: "webhook" | "websocket" = "webhook") {
  // Written directly: the API would refuse these URLs at save time already.
  const [agent] = await ctx.db.db
    .insert(agents)
    .values({ userId: user.id, name: "Inside", type, config })
    .returning();
  const persona = await createPersona(ctx.app, user);
  const session = await startSession(ctx.app, user, { agentId: agent!.id, personaId: persona.id });
  return waitForEnd(ctx.app, user, session.id);
}

describe("private targets at connect time", () => {
  it("refuses a loopback IP", async () => {
    const done = await sessionAgainst({ webhook_url: bot.url });
    expect(done.status).toBe("failed");
    expect(done.reason).toMatch(
      /^agent unreachable: refused: 127\.0\.0\.1:\d+ is a private or reserved address$/,
    );
    expect(bot.received).toHaveLength(0);
  });

  it("refuses localhost however it is spelled", async () => {
    const port = new URL(bot.url).port;
    const done = await sessionAgainst({ webhook_url: `http://LOCALHOST.:${port}/webhook` });
    expect(done.status).toBe("failed");
    expect(done.reason).toMatch(/refused: localhost\.:\d+ is a private or reserved address/);
    expect(bot.received).toHaveLength(0);
  });

  it("checks the resolved addresses of a name, not the name", async () => {
    const lookup = (allow: boolean) =>
      new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
        guardedLookup(allow)("localhost", { all: true }, (error, address) => resolve({ error, address })),
      );
    const refused = await lookup(false);
    expect(refused.error?.code).toBe("EPRIVATETARGET");
    // The reason names the host, never the address it resolved to.
    expect(refused.error?.message).toBe("refused: localhost resolves to a private or reserved address");
    const allowed = await lookup(true);
    expect(allowed.error).toBeNull();
    expect(allowed.address).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/) }),
      ]),
    );
  });

  it("refuses the cloud metadata address for WebSocket agents too", async () => {
    const done = await sessionAgainst({ url: "ws://169.254.169.254/latest" }, "websocket");
    expect(done.reason).toMatch(/refused: 169\.254\.169\.254 is a private or reserved address/);
  });

  // IP literals are never looked up: the engine checks them itself right before connecting.
  it.each([
    ["an IPv4-mapped IPv6 literal", "[::ffff:7f00:1]"],
    ["an IPv4-compatible IPv6 literal", "[::7f00:1]"],
    ["a NAT64 literal of loopback", "[64:ff9b::7f00:1]"],
    ["a 6to4 literal of loopback", "[2002:7f00:1::]"],
    ["a decimal IPv4 spelling", "2130706433"],
  ])("refuses %s (%s) when it dials", async (_what, host) => {
    const port = new URL(bot.url).port;
    const done = await sessionAgainst({ webhook_url: `http://${host}:${port}/webhook` });
    expect(done.status).toBe("failed");
    expect(done.reason).toMatch(/^agent unreachable: refused: .+ is a private or reserved address$/);
    expect(bot.received).toHaveLength(0);
  });
});
