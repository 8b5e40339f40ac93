// The one interface every agent type implements (the seed's "plugins"). Adding a type = adding an adapter.
import type { PersonaVoiceConfig, TypedAgentConfig } from "@mimic/db";
import type { OutboundPolicy } from "../outbound.js";

/** The agent as adapters see it: `config` typed by `type`, secrets in plaintext. */
export type AgentTarget = { id: string } & TypedAgentConfig;

export interface DeliveryContext {
  sessionId: string;
  agent: AgentTarget;
  persona: { id: string; name: string; voice?: PersonaVoiceConfig | undefined };
  message: { id: string; content: string; timestamp: Date };
  policy: OutboundPolicy;
}

export interface DeliveryResult {
  /** Replies that came back with the delivery itself (a webhook's response body). */
  replies: string[];
  /** More replies may arrive later (202/204 webhooks, WebSocket frames) until the reply timeout. */
  open: boolean;
}

/** Where adapters hand replies that arrive outside a delivery (WebSocket frames). */
export type AgentMessageSink = (sessionId: string, content: string) => Promise<void>;

export interface AgentAdapter {
  /** Called once when a session starts, before the persona speaks (the agent may greet first). */
  open?(context: Omit<DeliveryContext, "message">): Promise<void>;
  /** Delivers one persona message. Throws OutboundError when the agent cannot be reached. */
  deliver(context: DeliveryContext): Promise<DeliveryResult>;
  /** The session ended: release whatever the adapter holds for it. */
  close?(sessionId: string): Promise<void>;
  /** Sessions the adapter holds something open for (a connection): checked against the database now and then. */
  held?(): string[];
  /** The process stops. */
  shutdown?(): Promise<void>;
}

/** Limits on what an agent may send back: replies are untrusted input. */
export const MAX_REPLY_CHARS = 32 * 1024;
export const MAX_REPLIES_PER_DELIVERY = 20;
