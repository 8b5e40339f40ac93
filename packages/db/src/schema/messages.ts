import { type SQL, sql } from "drizzle-orm";
import {
  bigint,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import { senderType } from "./enums.js";
import { sessions } from "./sessions.js";

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

/** A status WhatsApp reported for a message the bot sent, at the session's simulated time (Unix seconds). */
export interface WhatsappStatus {
  status: "sent" | "delivered" | "read";
  timestamp: number;
}

/** What a message was on WhatsApp, beside the text the transcript shows. */
export interface WhatsappMessageMeta {
  /** The message's `wamid.…`. */
  id?: string;
  /** text, interactive, template, image, document, audio, video, sticker, reaction, location or contacts. */
  type?: string;
  /** Interactive messages: their kind and the options offered — or, for a persona's reply, the option chosen. */
  interactive?: {
    type: string;
    options?: { id: string; title: string; description?: string }[];
    choice?: { id: string; title: string };
    url?: string;
  };
  template?: { name: string; language: string };
  media?: { id?: string; link?: string; filename?: string };
  /** The wamid this message answers or reacts to. */
  context?: string;
  /** Persona messages: when the customer wrote it on the session's simulated clock (Unix seconds). */
  timestamp?: number;
  /** Bot messages: sent, delivered, read — in order, each once. */
  statuses?: WhatsappStatus[];
  /** Persona messages: when the bot marked it read (simulated Unix seconds), and whether it showed typing. */
  readByBot?: number;
  typing?: boolean;
  /** System findings: the Graph error that refused a call of the bot. */
  error?: { code: number; message: string; details: string };
}

/** Kinds of trouble found in a voice bot's Media Streams frames (system findings; they fail `voice_valid`). */
export const VOICE_FINDINGS = [
  "bad_frame",
  "wrong_stream",
  "wrong_format",
  "unknown_event",
  "mark_misuse",
] as const;
export type VoiceFinding = (typeof VOICE_FINDINGS)[number];

/** What a message was on a voice call. Times are ms on the call's clock (0 = the `start` frame). */
export interface VoiceMessageMeta {
  /** When the speech began and ended: for the bot, on the simulated playback clock (what the caller heard). */
  startMs?: number;
  endMs?: number;
  /** Agent utterances: ms from the end of the persona's speech to the bot's first audio; negative = talked over. */
  firstAudioMs?: number;
  /** Agent utterances: the bot started speaking while the persona was still talking. */
  talkOver?: boolean;
  /** Agent utterances: the persona interrupted after `afterMs` of the bot's speech; the bot sent `clear` `clearedAfterMs` later (null: it kept talking). */
  bargeIn?: { afterMs: number; clearedAfterMs: number | null };
  /** Persona turns: DTMF digits pressed. */
  dtmf?: string;
  /** Persona turns: the persona stayed silent (tests the bot's re-prompt). */
  silent?: boolean;
  /** The turn's audio is stored: GET /api/sessions/{id}/messages/{messageId}/audio. */
  audio?: boolean;
  /** System findings: what was wrong with the bot's stream. */
  finding?: VoiceFinding;
}

/** Channel detail of a message (null for most). */
export interface MessageMetadata {
  whatsapp?: WhatsappMessageMeta;
  voice?: VoiceMessageMeta;
}

export const messages = pgTable(
  "messages",
  {
    /** May be chosen by the client, which makes adding a message idempotent. */
    id: uuid("id").primaryKey(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    /** Insertion order; breaks ties between messages with the same timestamp. */
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
    senderType: senderType("sender_type").notNull(),
    content: text("content").notNull(),
    /** The persona turn this message belongs to (engine messages); null for messages added through the API. */
    turn: integer("turn"),
    /** Agent replies: milliseconds since the persona message they answer. */
    latencyMs: integer("latency_ms"),
    /** The seq of the new_message event that announced it (see sessions.eventSeq); replays after a seq read it. */
    eventSeq: integer("event_seq"),
    timestamp: timestamp("timestamp", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** Channel detail (WhatsApp: wamid, type, options or choice, template, statuses); null for most messages. */
    metadata: jsonb("metadata").$type<MessageMetadata>(),
    /** Full-text search vector (English stemming and stop words), maintained by PostgreSQL itself. */
    search: tsvector("search").generatedAlwaysAs(
      // Angle brackets would make the parser skip `<placeholders>` as HTML tags: they are spaces to it.
      (): SQL => sql`to_tsvector('english', translate(${messages.content}, '<>', '  '))`,
    ),
  },
  (t) => [
    index("messages_session_idx").on(t.sessionId, t.timestamp, t.seq),
    index("messages_search_idx").using("gin", t.search),
    index("messages_agent_latency_idx")
      .on(t.sessionId)
      .where(sql`${t.senderType} = 'agent' and ${t.latencyMs} is not null`),
  ],
);

export type Message = typeof messages.$inferSelect;
export type NewMessage = typeof messages.$inferInsert;
