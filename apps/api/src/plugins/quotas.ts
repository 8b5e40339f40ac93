// Ties the per-user quotas (lib/quotas.ts) to the operations that create things, by operationId: a preHandler
// on each of them (after validation, so `repeat`, `times` and batch sizes are known), and a 409 in the document.
import type { MimicDb } from "@mimic/db";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { type Charge, enforceQuotas, QUOTA_ENV, type QuotaName } from "../lib/quotas.js";
import { errorResponse } from "../lib/schemas.js";

type Request = FastifyRequest<{ Body: Record<string, unknown>; Querystring: Record<string, unknown> }>;

const count = (value: unknown, fallback = 1) => (typeof value === "number" ? value : fallback);

/**
 * What each operation adds. A new session must also find the user under the message quota (the messages it
 * will store are bounded by its maxMessages); `repeat: 20` is 20 sessions.
 */
export const QUOTA_CHARGES: Record<string, (request: Request) => Charge> = {
  createPersona: () => ({ personas: 1 }),
  createAgent: () => ({ agents: 1 }),
  createSession: (request) => ({ activeSessions: count(request.body.repeat), messages: 1 }),
  repeatSession: (request) => ({ activeSessions: count(request.query.times), messages: 1 }),
  addSessionMessage: () => ({ messages: 1 }),
  addSessionMessages: (request) => ({
    messages: Array.isArray(request.body.messages) ? request.body.messages.length : 1,
  }),
};

export default fp(
  async (app: FastifyInstance, { db, config }: { db: MimicDb; config: Config }) => {
    const seen = new Set<string>();
    app.addHook("onRoute", (route) => {
      const operationId = (route.schema as { operationId?: string } | undefined)?.operationId;
      const charge = operationId ? QUOTA_CHARGES[operationId] : undefined;
      if (!operationId || !charge || !route.schema) return;
      seen.add(operationId);
      const names = Object.keys(charge({ body: {}, query: {} } as Request)) as QuotaName[];
      route.schema.response ??= {};
      const response = route.schema.response as Record<string, { description?: string }>;
      const quotaDoc = `a quota is full (${names.map((n) => QUOTA_ENV[n]).join(", ")}); details[].field names it, e.g. \`quota.${names[0]}\``;
      response[409] = errorResponse(
        response[409]?.description
          ? `${response[409].description}, or ${quotaDoc}`
          : `Quota exceeded: ${quotaDoc}`,
      );
      const hook = async (request: FastifyRequest) => {
        // Agent replies (the agent's api_key, no user) belong to a running session, already bounded by maxMessages.
        if (!request.auth) return;
        await enforceQuotas(db.db, request.auth.user.id, config.quotas, charge(request as Request));
      };
      route.preHandler = [...(route.preHandler ? [route.preHandler].flat() : []), hook];
    });
    // A renamed operation must not silently lose its quota.
    app.addHook("onReady", async () => {
      const missing = Object.keys(QUOTA_CHARGES).filter((id) => !seen.has(id));
      if (missing.length > 0) throw new Error(`Quota charges for unknown operations: ${missing.join(", ")}`);
    });
  },
  { name: "quotas" },
);
