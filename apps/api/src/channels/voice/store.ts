// What a voice call writes: the bot's utterances (transcribed, with timings and audio) through the engine's reply
// path, the persona's turns' timings and audio, and findings about the bot's stream.
import { type Database, messageAudio, messages, type VoiceFinding, type VoiceMessageMeta } from "@mimic/db";
import { and, eq, sql } from "drizzle-orm";
import { type NewMessageInput, recordLive } from "../../engine/session-store.js";
import { durationMs, SAMPLE_RATE, wavFromPcm } from "./audio.js";

/** Audio kept per turn: longer turns are stored cut at this length (8 kHz 16-bit: about 16 KB a second). */
export const MAX_AUDIO_SECONDS = 60;

function audioRow(sessionId: string, messageId: string, pcm: Int16Array) {
  const kept = pcm.subarray(0, MAX_AUDIO_SECONDS * SAMPLE_RATE);
  return { messageId, sessionId, durationMs: Math.round(durationMs(kept.length)), wav: wavFromPcm(kept) };
}

/**
 * Records a bot utterance as an agent message of a running session, through the engine's reply path (scheduling
 * the persona's next turn, maxMessages, new_message), with its audio — together or not at all. Returns false when
 * nothing was recorded (the session ended meanwhile, or the message was past maxMessages).
 */
export async function recordUtterance(
  db: Database,
  sessionId: string,
  utterance: {
    content: string;
    meta: VoiceMessageMeta;
    /** When the bot began to speak: the transcript is in the order things were said. */
    timestamp: Date;
    /** It answers the persona's turn (the first utterance since the persona spoke), after this many ms. */
    latencyMs?: number | undefined;
    audio: Int16Array;
  },
): Promise<boolean> {
  const id = crypto.randomUUID();
  const reply: NewMessageInput = {
    id,
    senderType: "agent",
    content: utterance.content,
    metadata: { voice: { ...utterance.meta, audio: utterance.audio.length > 0 } },
    timestamp: utterance.timestamp,
    reply: utterance.latencyMs !== undefined,
    latencyMs: utterance.latencyMs,
  };
  return recordLive(db, sessionId, reply, async (tx) => {
    if (utterance.audio.length > 0)
      await tx.insert(messageAudio).values(audioRow(sessionId, id, utterance.audio));
  });
}

/** A persona turn as it went out on the call: timings, keys pressed, audio. A redelivery keeps the first. */
export async function describePersonaTurn(
  db: Database,
  sessionId: string,
  messageId: string,
  meta: VoiceMessageMeta,
  audio: Int16Array,
) {
  await db.transaction(async (tx) => {
    const described = await tx
      .update(messages)
      .set({
        metadata: sql`coalesce(${messages.metadata}, '{}'::jsonb) || ${JSON.stringify({ voice: { ...meta, audio: audio.length > 0 } })}::jsonb`,
      })
      .where(
        and(
          eq(messages.id, messageId),
          eq(messages.sessionId, sessionId),
          sql`not coalesce(${messages.metadata} ? 'voice', false)`,
        ),
      )
      .returning({ id: messages.id });
    if (described.length > 0 && audio.length > 0)
      await tx
        .insert(messageAudio)
        .values(audioRow(sessionId, messageId, audio))
        .onConflictDoNothing();
  });
}

/** A system message in a running session's transcript: a finding about the bot's stream, or a note. */
export async function recordCallEvent(
  db: Database,
  sessionId: string,
  content: string,
  finding?: VoiceFinding,
) {
  await recordLive(db, sessionId, {
    senderType: "system",
    content,
    ...(finding ? { metadata: { voice: { finding } } } : {}),
  });
}
