// Real webhook bots on loopback for the CLI's tests: plain node:http servers on port 0 that answer Mimic's POST
// ({sessionId, messageId, content, …}) with 200 {"reply": "…"}.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Bot {
  url: string;
  /** Messages received. */
  received: number;
  close(): Promise<void>;
}

export async function startBot(reply: (content: string) => string): Promise<Bot> {
  const bot: Bot = { url: "", received: 0, close: async () => {} };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const { content } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { content: string };
      bot.received++;
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ reply: reply(content) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  bot.url = `http://127.0.0.1:${port}/webhook`;
  bot.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return bot;
}

/**
 * A support bot that does its job: asks for the order number, then gives a new delivery date once the
 * customer's message carries one (a number or `#`).
 */
export function supportReply(content: string): string {
  const text = content.toLowerCase();
  if (/\b(thank|thanks|bye)\b/.test(text)) return "You're welcome! Have a great day.";
  if (/#|\d{3,}/.test(content)) {
    return "Thanks! Order #123 is with the courier. Your new delivery date is Thursday.";
  }
  return "I'm sorry about the delay! Could you give me your order number so I can look it up?";
}

/** A bot that answers, but never helps. */
export const turtleReply = () => "I like turtles.";
