// A scripted HTTP server on loopback, standing in for the API where a test needs answers the API would not
// give on demand (503s, a 429 with a chosen Retry-After, silence). It records every request it receives.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface StubAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Never answer: the client's timeout has to end the request. */
  hang?: boolean;
}

export interface StubRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Stub {
  baseUrl: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

/** Answers the n-th request with `answers[n]`, and every later one with the last answer. */
export async function startStub(answers: StubAnswer[]): Promise<Stub> {
  const requests: StubRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const answer = answers[Math.min(requests.length, answers.length) - 1]!;
      if (answer.hang) return;
      const body = answer.body === undefined ? "" : JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        ...(body ? { "content-type": "application/json" } : {}),
        "x-request-id": `stub-${requests.length}`,
        ...answer.headers,
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The error envelope the API sends, for stub answers. */
export const errorBody = (code: string, message: string) => ({ error: { code, message, requestId: "stub" } });

/** A valid body for GET /health. */
export const HEALTHY = { status: "ok", version: "0.0.0-stub", uptimeSeconds: 1 };
