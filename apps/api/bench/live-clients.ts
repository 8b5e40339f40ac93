// The clients of the live-events bench (live.ts), each group in a worker thread of its own, so the server's event
// loop is not charged for their work: the subscribers (WebSocket connections to /api/ws, each subscribed to the
// session, recording receipt time − commit time for every measured message; see live.ts for the clocks) and the
// publisher (the messages, posted one at a time on a schedule).
import { setTimeout as sleep } from "node:timers/promises";
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";

export interface SubscriberJob {
  role: "subscribers";
  url: string;
  token: string;
  sessionId: string;
  sockets: number;
  /** Database clock − this machine's wall clock, in ms. */
  offsetMs: number;
  /** Content prefix of the messages to measure (warm-up messages have another). */
  measuredPrefix: string;
}

export interface PublisherJob {
  role: "publisher";
  baseUrl: string;
  token: string;
  sessionId: string;
  /** Unmeasured messages first, at the same rate. */
  warmup: number;
  events: number;
  /** Messages per second. */
  rate: number;
  measuredPrefix: string;
}

/** main → subscribers */
export type SubscriberCommand = { type: "drain"; expected: number; timeoutMs: number };

/** worker → main */
export type ClientReport =
  | { type: "ready"; connectMs: number }
  | { type: "failed"; message: string }
  | {
      type: "result";
      /** Latencies in ms, one per measured message per socket. */
      latencies: Float64Array;
      /** Measured messages expected but not received by the drain deadline. */
      missing: number;
      /** `error` events from the server and sockets closed before the drain. */
      errors: number;
    }
  /** The measured messages start now. */
  | { type: "publishing" }
  | {
      type: "published";
      /** Round trip of each measured POST, in ms. */
      postMs: number[];
      /** How far the last POST started behind its schedule (the server could not keep up with the rate). */
      lagMs: number;
    };

const port = parentPort!;
const report = (message: ClientReport, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const wallNow = () => performance.timeOrigin + performance.now();
/** How every new_message event starts (as the server encodes events: `type` first). */
const NEW_MESSAGE = '{"type":"new_message"';

function runSubscribers(job: SubscriberJob) {
  const subscribers: { socket: WebSocket; measured: number }[] = [];
  let samples = new Float64Array(1024);
  let count = 0;
  let errors = 0;
  let draining = false;
  let onProgress: (() => void) | undefined;

  const record = (latency: number) => {
    if (count === samples.length) {
      const grown = new Float64Array(samples.length * 2);
      grown.set(samples);
      samples = grown;
    }
    samples[count++] = latency;
  };

  /** Opens one socket; resolves once its subscription is confirmed and its snapshot received. */
  const open = () =>
    new Promise<void>((resolve, reject) => {
      // As little work per frame as can be: the sockets share this thread, so time spent on one frame delays the
      // receipt (and the timestamp) of the next socket's.
      const socket = new WebSocket(job.url, {
        headers: { authorization: `Bearer ${job.token}` },
        perMessageDeflate: false,
        skipUTF8Validation: true,
      });
      const subscriber = { socket, measured: 0 };
      subscribers.push(subscriber);
      let subscribed = false;
      let ready = false;
      socket.once("open", () => socket.send(JSON.stringify({ type: "subscribe", sessionId: job.sessionId })));
      socket.once("error", reject);
      socket.on("close", () => {
        if (!draining) errors++;
      });
      socket.on("message", (data: Buffer) => {
        const receivedAt = wallNow();
        const head = data.toString("latin1", 0, NEW_MESSAGE.length);
        // Once subscribed, only messages are read (session updates are skipped unparsed).
        if (ready && head !== NEW_MESSAGE) {
          if (head.startsWith('{"type":"error"')) errors++;
          return;
        }
        const event = JSON.parse(data.toString()) as {
          type: string;
          data?: { content?: string; timestamp?: string };
        };
        if (event.type === "new_message") {
          if (!event.data?.content?.startsWith(job.measuredPrefix)) return;
          record(receivedAt - (Date.parse(event.data.timestamp!) - job.offsetMs));
          subscriber.measured++;
          onProgress?.();
        } else if (event.type === "subscribed") {
          subscribed = true;
        } else if (event.type === "session_update" && subscribed) {
          // The catch-up's snapshot follows `subscribed`: from now on every event of the session comes live.
          ready = true;
          resolve();
        } else if (event.type === "error") {
          errors++;
          reject(new Error(`subscribe refused: ${data.toString()}`));
        }
      });
    });

  const connectAll = async () => {
    const started = wallNow();
    // A few dozen handshakes at a time, as clients arriving together would.
    for (let i = 0; i < job.sockets; i += 50)
      await Promise.all(Array.from({ length: Math.min(50, job.sockets - i) }, open));
    return wallNow() - started;
  };

  const drain = async (expected: number, timeoutMs: number) => {
    const done = () => subscribers.every((s) => s.measured >= expected);
    if (!done()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        onProgress = () => {
          if (!done()) return;
          clearTimeout(timer);
          resolve();
        };
      });
    }
    onProgress = undefined;
    draining = true;
    const missing = subscribers.reduce((sum, s) => sum + Math.max(0, expected - s.measured), 0);
    const latencies = samples.slice(0, count);
    for (const { socket } of subscribers) socket.close(1000);
    report({ type: "result", latencies, missing, errors }, [latencies.buffer]);
    port.close();
  };

  port.on("message", (command: SubscriberCommand) => {
    if (command.type === "drain") void drain(command.expected, command.timeoutMs);
  });
  connectAll().then(
    (connectMs) => report({ type: "ready", connectMs }),
    (error: Error) => {
      for (const { socket } of subscribers) socket.terminate();
      report({ type: "failed", message: error.message });
      port.close();
    },
  );
}

async function runPublisher(job: PublisherJob) {
  // Persona messages: agent replies to a session count against its maxMessages, these do not.
  const post = async (content: string) => {
    const res = await fetch(`${job.baseUrl}/api/sessions/${job.sessionId}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${job.token}`, "content-type": "application/json" },
      body: JSON.stringify({ senderType: "persona", content }),
    });
    if (!res.ok) throw new Error(`POST …/messages: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  const interval = 1000 / job.rate;
  for (let i = 0; i < job.warmup; i++) {
    await post(`warm-up ${i}`);
    await sleep(interval);
  }
  report({ type: "publishing" });
  const postMs: number[] = [];
  let lagMs = 0;
  const start = performance.now();
  for (let i = 0; i < job.events; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    else lagMs = -wait;
    const sent = performance.now();
    await post(`${job.measuredPrefix}${i}`);
    postMs.push(performance.now() - sent);
  }
  report({ type: "published", postMs, lagMs });
  port.close();
}

const job = workerData as SubscriberJob | PublisherJob;
if (job.role === "subscribers") runSubscribers(job);
else
  runPublisher(job).catch((error: Error) => {
    report({ type: "failed", message: error.message });
    port.close();
  });
