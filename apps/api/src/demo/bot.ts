// The built-in demo support bot: a small webhook agent (ShopCo's "Ava") so `pnpm dev` shows a live conversation
// with nothing else installed. It verifies Mimic's signature like a real bot should (see the README recipe).
import http from "node:http";
import { SIGNATURE_HEADER, verifySignature } from "../engine/signing.js";

export function demoReply(text: string): string {
  const t = text.toLowerCase();
  // "#961972" written, "order number 961972" spoken (as a speech-to-text endpoint writes it down).
  const order = (/#\s?(\d{3,})/.exec(text) ?? /\border(?: number)?(?: is)?\s+(\d{3,})/i.exec(text))?.[1];
  if (/\b(human|person|manager|supervisor)\b/.test(t))
    return "I understand. I'm transferring you to a human colleague now.";
  if (/\b(thank|thanks|bye|that's all)\b/.test(t)) return "You're welcome! Have a great day.";
  if (/\brefund|money back\b/.test(t))
    return "I can do that for you. Your refund has been issued and will reach your card in 3–5 days.";
  if (order) {
    return `Thanks! Order #${order} is with the courier — it was held up at our depot. Your new delivery date is Thursday, and I've upgraded it to express shipping at no cost.`;
  }
  if (/\b(order|parcel|package|deliver|delivery|shipping|late|delayed|where)\b/.test(t)) {
    return "I'm sorry about the delay! Could you give me your order number so I can look it up?";
  }
  if (/\b(hi|hello|hey)\b/.test(t)) return "Hi! I'm Ava from ShopCo support. How can I help you today?";
  return "Could you tell me a bit more about the problem?";
}

export interface DemoBot {
  url: string;
  close(): Promise<void>;
}

/** Listens on loopback; answers POST /webhook with {"reply": "…"}. */
export async function startDemoBot(port: number, secret: string): Promise<DemoBot> {
  const server = http.createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/webhook") {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      if (!verifySignature(secret, body, req.headers[SIGNATURE_HEADER] as string | undefined)) {
        res.writeHead(401, { "content-type": "application/json" }).end('{"error":"bad signature"}');
        return;
      }
      const { content } = JSON.parse(body) as { content: string };
      // A human-ish pause before answering.
      setTimeout(
        () => {
          res
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ reply: demoReply(content) }));
        },
        300 + Math.floor(Math.random() * 500),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${bound}/webhook`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
