// A small support bot on loopback for the dashboard's tests and screenshots: a webhook agent that answers like a
// helpful shop assistant (late parcels, refunds), slowly enough for a transcript to arrive message by message.
import http from "node:http";
import type { AddressInfo } from "node:net";

export function supportReply(text: string): string {
  const t = text.toLowerCase();
  const order = /#\s?(\d{3,})/.exec(text)?.[1];
  if (/\b(human|person|manager|supervisor)\b/.test(t))
    return "Of course — I'm passing you to a colleague now.";
  if (/\b(thank|thanks|bye|that's all)\b/.test(t)) return "You're welcome! Have a great day.";
  if (/\b(refund|money back)\b/.test(t))
    return "Done: your refund has been issued and will reach your card in 3–5 days.";
  if (order)
    return `Thanks! Order #${order} is with the courier. Your new delivery date is Thursday, and I've upgraded it to express shipping at no cost.`;
  if (/\b(order|parcel|package|deliver|delivery|shipping|late|delayed|where)\b/.test(t))
    return "I'm sorry about the delay! Could you give me your order number so I can look it up?";
  if (/\b(hi|hello|hey)\b/.test(t)) return "Hi! I'm Ava from ShopCo support. How can I help you today?";
  return "Could you tell me a bit more about the problem?";
}

export interface SupportBot {
  /** The webhook URL to give the agent. */
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port 0); answers `POST /webhook` with `{"reply": "…"}` after `delayMs`. */
export async function startSupportBot({ delayMs = 150 }: { delayMs?: number } = {}): Promise<SupportBot> {
  const server = http.createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/webhook") {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const { content } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { content: string };
      setTimeout(() => {
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ reply: supportReply(content) }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
