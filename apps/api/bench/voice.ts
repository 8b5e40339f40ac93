// Voice calls at once: how many Media Streams calls one Mimic process carries in real time. Each call does what a
// voice session's call does all the time — sends the caller's line as a 20 ms μ-law frame every 20 ms (speech
// from flite, silence between), and plays, listens to (voice-activity detection) and cuts into utterances what the
// bot sends back. The bot is an echo bot in a process of its own: every frame it receives goes back at once, so Mimic's
// receive path carries as much audio as its send path.
//
// Measured per call count, with 1 call as the baseline of the same run: the pacing as the bot sees it — lateness of
// each frame behind the call's most punctual one (arrival − 20 ms × frame number) p50/p99/max — frames delivered
// against those due, and the CPU time of Mimic's process (the bot's is not in it). Calls only (no database, no STT): a voice session adds a
// few database writes and one transcription per turn, far less than its 50 frames a second each way.
import { fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { MediaStreamCall, type Utterance } from "../src/channels/voice/call.js";
import { createFliteSynthesizer } from "../src/channels/voice/tts.js";
import { createVad } from "../src/channels/voice/vad.js";

export interface VoiceBenchOptions {
  /** Call counts to measure besides the 1-call baseline, e.g. [50, 200]. */
  calls: number[];
  /** Seconds each measurement runs. */
  seconds: number;
}

interface Report {
  calls: number;
  frames: number;
  due: number;
  lateP50: number;
  lateP99: number;
  lateMax: number;
  /** Mimic's process: CPU time over wall time, in % of one core. */
  cpuPercent: number;
  utterances: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! : 0;

async function measure(calls: number, seconds: number, speech: Int16Array): Promise<Report> {
  const bot = fork(fileURLToPath(new URL("./voice-bot.mjs", import.meta.url)), { stdio: "inherit" });
  const port = await new Promise<number>((resolve) =>
    bot.once("message", (m: { port: number }) => resolve(m.port)),
  );
  const vads = await Promise.all(Array.from({ length: calls }, () => createVad()));
  let utterances = 0;
  const open: MediaStreamCall[] = vads.map(
    (vad) =>
      new MediaStreamCall({
        url: new URL(`ws://127.0.0.1:${port}/media`),
        headers: {},
        customParameters: {},
        policy: { allowPrivateTargets: true, connectTimeoutMs: 5000, timeoutMs: 5000, maxResponseBytes: 0 },
        silenceMs: 800,
        vad,
        events: {
          speaking: () => {},
          utterance: (_u: Utterance) => {
            utterances++;
          },
          unheard: () => {},
          finding: (kind, detail) => console.error(`voice bench: finding ${kind}: ${detail}`),
          hangup: () => {},
        },
      }),
  );
  await Promise.all(open.map((call) => call.connect()));
  const cpu = process.cpuUsage();
  const started = performance.now();
  // Each call says the sentence, pauses a second, says it again … staggered so they do not all speak together.
  const talking = open.map(async (call, i) => {
    await new Promise((resolve) => setTimeout(resolve, (i * 37) % 1000));
    while (performance.now() - started < seconds * 1000) {
      await call.speak(speech).done;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const used = process.cpuUsage(cpu);
  const elapsed = (performance.now() - started) / 1000;
  for (const call of open) call.hangUp();
  await Promise.all(talking);
  bot.send("report");
  const report = await new Promise<{ lateness: number[]; frames: number; due: number }>((resolve) =>
    bot.once("message", (m) => resolve(m as { lateness: number[]; frames: number; due: number })),
  );
  bot.kill();
  for (const vad of vads) vad.free();
  const sorted = report.lateness.sort((a, b) => a - b);
  return {
    calls,
    frames: report.frames,
    due: report.due,
    lateP50: percentile(sorted, 50),
    lateP99: percentile(sorted, 99),
    lateMax: sorted.at(-1) ?? 0,
    cpuPercent: (used.user + used.system) / 1000 / (elapsed * 10),
    utterances,
  };
}

export async function runVoiceBench(options: VoiceBenchOptions) {
  const flite = createFliteSynthesizer();
  const speech = await flite.synthesize("Hello, I ordered headphones ten days ago and the parcel is late.");
  await flite.close();
  const reports: Report[] = [];
  for (const calls of [1, ...options.calls]) {
    console.error(`voice bench: ${calls} call${calls > 1 ? "s" : ""} for ${options.seconds} s …`);
    reports.push(await measure(calls, options.seconds, speech));
  }
  const base = reports[0]!;
  console.log(
    "\nVoice calls at once — pacing as the bot sees it, CPU of Mimic's process (1 call = baseline)",
  );
  console.log(
    "| calls | frames received / due | lateness p50 | p99 | × baseline p99 | max | CPU (% of a core) | per call | utterances heard |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of reports) {
    console.log(
      `| ${r.calls} | ${((100 * r.frames) / r.due).toFixed(1)} % | ${r.lateP50.toFixed(1)} ms | ${r.lateP99.toFixed(1)} ms | ${(r.lateP99 / base.lateP99).toFixed(2)}× | ${r.lateMax.toFixed(0)} ms | ${r.cpuPercent.toFixed(1)} % | ${(r.cpuPercent / r.calls).toFixed(2)} % | ${r.utterances} |`,
    );
  }
}
