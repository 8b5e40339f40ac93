// The voice bench's bot, in a worker thread: a Media Streams echo bot. Every media frame it receives goes straight
// back; it records how late each frame arrived behind its due time (the call's `start` + 20 ms × its number).

import { performance } from "node:perf_hooks";
import { parentPort } from "node:worker_threads";
import { WebSocketServer } from "ws";

const lateness = [];
let frames = 0;
let due = 0;
const calls = new Set();

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/media" });
wss.on("listening", () => parentPort.postMessage({ port: wss.address().port }));
wss.on("connection", (socket) => {
  const call = { startedAt: 0, streamSid: "", received: 0 };
  calls.add(call);
  socket.on("message", (data) => {
    const at = performance.now();
    const message = JSON.parse(data.toString());
    if (message.event === "start") {
      call.startedAt = at;
      call.streamSid = message.start.streamSid;
    } else if (message.event === "media") {
      const n = Number(message.media.timestamp) / 20;
      lateness.push(Math.max(0, at - (call.startedAt + n * 20)));
      frames++;
      call.received++;
      socket.send(
        JSON.stringify({
          event: "media",
          streamSid: call.streamSid,
          media: { payload: message.media.payload },
        }),
      );
    } else if (message.event === "stop") {
      call.endedAt = at;
    }
  });
  socket.on("close", () => {
    call.endedAt ??= performance.now();
  });
});

parentPort.on("message", () => {
  for (const call of calls) due += Math.floor((call.endedAt - call.startedAt) / 20);
  parentPort.postMessage({ lateness, frames, due });
});
