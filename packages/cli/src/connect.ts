// Which Mimic the CLI talks to: a server (--base-url / MIMIC_BASE_URL with MIMIC_API_KEY), or, with neither, a
// throwaway one started in this process (embedded mode). Either way the CLI then speaks HTTP through the SDK.
import { randomBytes, randomUUID } from "node:crypto";
import {
  AuthenticationError,
  ConnectionError,
  InternalServerError,
  MimicClient,
  MimicError,
} from "@mimic/sdk";

/** An error that ends the command with this exit code (2: invalid suite or options, 3: server or credentials). */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly code: 1 | 2 | 3,
  ) {
    super(message);
    this.name = "ExitError";
  }
}

export interface Connection {
  client: MimicClient;
  baseUrl: string;
  mode: "embedded" | "server";
  close(): Promise<void>;
}

export interface ConnectOptions {
  baseUrl?: string | undefined;
  apiKey?: string | undefined;
  /** For the embedded server's logs: `silent` unless verbose. */
  logLevel?: string;
  info(line: string): void;
}

const USER_AGENT = "mimic-cli";

/** An SDK failure while talking to the server, as the exit it means: 3 for "unreachable" or "refused". */
export function serverExit(error: unknown, baseUrl: string): ExitError | undefined {
  if (error instanceof AuthenticationError) {
    return new ExitError(
      `Mimic at ${baseUrl} refused the credentials (401 ${error.code ?? ""}: ${error.message}). Check MIMIC_API_KEY.`,
      3,
    );
  }
  if (error instanceof ConnectionError) {
    const cause = (error.cause as { cause?: { code?: string } } | undefined)?.cause?.code;
    return new ExitError(
      `cannot reach Mimic at ${baseUrl}: ${error.message}${cause ? ` (${cause})` : ""}. Is the server running, and is --base-url / MIMIC_BASE_URL right?`,
      3,
    );
  }
  if (error instanceof InternalServerError) {
    return new ExitError(
      `Mimic at ${baseUrl} failed: ${error.status} ${error.message}${error.requestId ? ` (request ${error.requestId})` : ""}`,
      3,
    );
  }
  return undefined;
}

export async function connect(options: ConnectOptions): Promise<Connection> {
  const { apiKey } = options;
  if (options.baseUrl) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)");
    } catch {
      throw new ExitError(
        `--base-url must be an http(s) URL such as http://localhost:4000, got "${options.baseUrl}"`,
        2,
      );
    }
    if (!apiKey) {
      throw new ExitError(
        "MIMIC_API_KEY is not set: a server needs an API key (create one in the dashboard, or with `client.apiKeys.create()` of @mimic/sdk). Without --base-url, an embedded Mimic is started instead.",
        2,
      );
    }
    const baseUrl = options.baseUrl.replace(/\/+$/, "");
    const client = new MimicClient({ baseUrl, token: apiKey, headers: { "user-agent": USER_AGENT } });
    try {
      await client.auth.me();
    } catch (error) {
      throw (
        serverExit(error, baseUrl) ??
        new ExitError(
          `Mimic at ${baseUrl} answered ${error instanceof MimicError ? `${error.status ?? ""} ${error.message}` : String(error)}: is it a Mimic server?`,
          3,
        )
      );
    }
    return { client, baseUrl, mode: "server", close: async () => client.sessions.unsubscribeAll() };
  }
  if (apiKey) {
    throw new ExitError(
      "MIMIC_API_KEY is set but no server is: pass --base-url or set MIMIC_BASE_URL (or unset MIMIC_API_KEY to use an embedded Mimic)",
      2,
    );
  }
  return startEmbedded(options);
}

async function startEmbedded(options: ConnectOptions): Promise<Connection> {
  options.info("No MIMIC_BASE_URL: starting an embedded Mimic (in-process, throwaway database)…");
  const started = Date.now();
  // Loaded only here: `mimic validate`, `init` and server mode never pay for the server's start-up.
  const { startEmbeddedServer } = await import("@mimic/api/embedded");
  let server: Awaited<ReturnType<typeof startEmbeddedServer>>;
  try {
    server = await startEmbeddedServer({ logLevel: options.logLevel ?? "silent" });
  } catch (error) {
    throw new ExitError(`could not start the embedded Mimic: ${(error as Error).message}`, 3);
  }
  try {
    const client = new MimicClient({ baseUrl: server.baseUrl, headers: { "user-agent": USER_AGENT } });
    // A throwaway user, through the public API like any client; an API key outlives the one-hour access token.
    const { access_token } = await client.auth.register({
      email: `mimic-cli-${randomUUID()}@embedded.mimic.invalid`,
      password: randomBytes(24).toString("base64url"),
    });
    client.setToken(access_token);
    const { key } = await client.apiKeys.create({ name: "mimic-cli" });
    client.setToken(key);
    options.info(
      `Embedded Mimic ready on ${server.baseUrl} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    return {
      client,
      baseUrl: server.baseUrl,
      mode: "embedded",
      async close() {
        client.sessions.unsubscribeAll();
        await server.close();
      },
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}
