// A webhook bot on loopback, the agent under test in live-event tests: it answers every message Mimic POSTs
// ({sessionId, messageId, content, persona}) with 200 {"reply": "…"} right away.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface WebhookBot {
  url: string;
  /** The bodies received, in order. */
  received: { sessionId: string; messageId: string; content: string }[];
  close(): Promise<void>;
}

export async function startWebhookBot(): Promise<WebhookBot> {
  const received: WebhookBot["received"] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as WebhookBot["received"][number];
      received.push({ sessionId: body.sessionId, messageId: body.messageId, content: body.content });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ reply: `Thanks, I hear you: ${body.content.slice(0, 40)}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
