// Sessions that really play: an API with the engine on, a webhook bot on loopback, and per-user fixtures made
// through the SDK (a persona with no goal, so a session runs until maxMessages, and a webhook agent).
import type { Agent, MimicClient, Persona, Session, SessionConfig } from "../../src/index.js";
import { type SignedUp, signUp } from "./api.js";

/** The engine polls every 20 ms; loopback agents are allowed; rate limits never get in the way. */
export const ENGINE_ENV = {
  MIMIC_ALLOW_PRIVATE_TARGETS: "true",
  MIMIC_ENGINE_POLL_MS: "20",
  MIMIC_RATE_LIMIT_USER: "100000",
  MIMIC_RATE_LIMIT_ANON: "100000",
  MIMIC_RATE_LIMIT_LOGIN: "100000",
};

/** Six messages (persona, agent × 3), 0.2 s apart: about a second, ending `completed`. */
export const SHORT: Partial<SessionConfig> = { maxMessages: 6, messageInterval: 0.2, replyTimeout: 2 };
/**
 * Long enough to still be running when a test is done with it (stop it then): the persona gives up on the echo bot
 * after five or six turns, about six seconds at one a second.
 */
export const LONG: Partial<SessionConfig> = { maxMessages: 200, messageInterval: 1, replyTimeout: 2 };

export interface Simulator extends SignedUp {
  persona: Persona;
  agent: Agent;
  /** Starts a session between this user's persona and agent. */
  start(config?: Partial<SessionConfig>): Promise<Session>;
}

export async function simulator(baseUrl: string, botUrl: string): Promise<Simulator> {
  const user = await signUp(baseUrl);
  const { client } = user;
  const persona = await client.personas.create({
    name: "Impatient Ivy",
    prompt: "You ordered a blender two weeks ago and it has not arrived. You want a refund.",
    goal: null,
    seed: 1,
  });
  const agent = await client.agents.create({
    name: "Support bot",
    type: "webhook",
    config: { webhook_url: botUrl },
  });
  return {
    ...user,
    persona,
    agent,
    start: (config = SHORT) => startSession(client, agent.id, persona.id, config),
  };
}

export function startSession(
  client: MimicClient,
  agentId: string,
  personaId: string,
  config: Partial<SessionConfig> = SHORT,
): Promise<Session> {
  return client.sessions.create({ agentId, personaId, config });
}
