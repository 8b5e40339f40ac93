// The voice bench's bot, in a process of its own: a Media Streams echo bot. Every media frame it receives goes straight
// back; it records when each frame arrived against its number. A frame's lateness is measured against the call's
// most punctual frame (arrival − 20 ms × its number, at its smallest): jitter of the pacing, whatever the delay of
// `start` itself on a busy machine.

import { performance } from "node:perf_hooks";
import { WebSocketServer } from "ws";

let frames = 0;
let due = 0;
const calls = new Set();

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/media" });
wss.on("listening", () => process.send({ port: wss.address().port }));
wss.on("connection", (socket) => {
  const call = { startedAt: 0, streamSid: "", received: 0, offsets: [] };
  calls.add(call);
  socket.on("message", (data) => {
    const at = performance.now();
    const message = JSON.parse(data.toString());
    if (message.event === "start") {
      call.startedAt = at;
      call.streamSid = message.start.streamSid;
    } else if (message.event === "media") {
      call.offsets.push(at - Number(message.media.timestamp));
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

process.on("message", () => {
  const lateness = [];
  for (const call of calls) {
    due += Math.floor((call.endedAt - call.startedAt) / 20);
    const best = Math.min(...call.offsets);
    for (const offset of call.offsets) lateness.push(offset - best);
  }
  process.send({ lateness, frames, due });
});
process.on("disconnect", () => process.exit(0));
