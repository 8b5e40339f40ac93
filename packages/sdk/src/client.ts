// MimicClient, the SDK's entry point. Its resource properties (auth, personas, agents …) come from the
// generated MimicResources; what is written here by hand is construction, the token, and `sessions`, which
// adds live events (subscribe, events) to the generated methods.
import { MimicResources } from "./generated/resources.js";
import { SessionsResource } from "./sessions.js";
import { type ClientOptions, type TokenSource, Transport } from "./transport.js";

/**
 * A client of the Mimic API.
 *
 * ```ts
 * const client = new MimicClient({ baseUrl: "http://localhost:4000", token: process.env.MIMIC_API_KEY });
 * const persona = await client.personas.create({ name: "Impatient Ivy", prompt: "…" });
 * ```
 *
 * Methods resolve to the response body and throw a MimicError subclass (NotFoundError, ValidationError …)
 * for any other answer. A hand-written resource that wraps a generated one takes its place by overriding
 * the property in a subclass: `override readonly sessions = new SessionsResource(this.transport)`.
 */
export class MimicClient extends MimicResources {
  /** Sessions: the generated methods plus live events (`subscribe`, `events`). */
  override readonly sessions: SessionsResource = new SessionsResource(this.transport);

  constructor(options: ClientOptions) {
    super(new Transport(options));
  }

  /** The API's origin, as given (without a trailing slash). */
  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  /**
   * Uses another token from the next request on, e.g. the one `auth.login` returns:
   * `client.setToken((await client.auth.login({ email, password })).access_token)`.
   */
  setToken(token: TokenSource | undefined): void {
    this.transport.setToken(token);
  }
}
