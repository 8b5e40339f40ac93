// The AsyncAPI 3 document of the live-event protocol (WebSocket /api/ws), served at /asyncapi.json. It is built
// from the TypeBox schemas that type the events (modules/sessions/schemas.ts: the LiveEvent and LiveClientMessage
// unions and what they reference), so a new event or field shows up here without anyone copying it.

type Json = Record<string, unknown>;

/** The unions whose members are the protocol's messages, by $id. */
const SERVER_EVENTS = "LiveEvent";
const CLIENT_MESSAGES = "LiveClientMessage";
const CHANNEL = "liveEvents";

const idOfRef = (ref: string) => ref.replace(/#$/, "");
const schemaRef = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** A plain JSON copy (TypeBox's symbol keys dropped) with `$ref: "Id"` pointed at components, noting each Id. */
function copySchema(schema: unknown, found: Set<string>): Json {
  return JSON.parse(JSON.stringify(schema), (key, value) => {
    if (key === "$ref" && typeof value === "string" && !value.startsWith("#")) {
      found.add(idOfRef(value));
      return schemaRef(idOfRef(value)).$ref;
    }
    return value;
  });
}

function membersOf(union: Json | undefined, name: string): string[] {
  const members = union?.anyOf ?? union?.oneOf;
  if (!Array.isArray(members)) throw new Error(`AsyncAPI: schema ${name} must be a union of $refs`);
  return members.map((m: { $ref?: string }) => {
    if (!m.$ref) throw new Error(`AsyncAPI: every member of ${name} must be a $ref`);
    return idOfRef(m.$ref);
  });
}

/** The `type` value(s) a message schema fixes: "session_update", or "subscribed | unsubscribed". */
function typeNames(schema: Json): string[] {
  const type = (schema.properties as Json | undefined)?.type as Json | undefined;
  if (!type) return [];
  if ("const" in type) return [String(type.const)];
  const options = (type.anyOf ?? type.oneOf) as Json[] | undefined;
  return (options ?? []).flatMap((o) => ("const" in o ? [String(o.const)] : []));
}

export interface AsyncApiOptions {
  /** Every named schema ($id → schema): app.getSchemas(). */
  schemas: Record<string, unknown>;
  version: string;
}

/**
 * The document describes the Mimic server: it `receive`s what a client sends (subscribe, unsubscribe) and `send`s
 * the events. Throws when the event unions are missing, so a broken source fails the build, not the reader.
 */
export function buildAsyncApiDocument({ schemas, version }: AsyncApiOptions) {
  const lookup = (id: string) => {
    const schema = schemas[id];
    if (!schema) throw new Error(`AsyncAPI: no schema with $id ${id}`);
    return schema as Json;
  };
  const serverEvents = membersOf(lookup(SERVER_EVENTS), SERVER_EVENTS);
  const clientMessages = membersOf(lookup(CLIENT_MESSAGES), CLIENT_MESSAGES);

  // Components: the message payloads and everything they reference, transitively.
  const componentsSchemas: Record<string, Json> = {};
  const pending = [...clientMessages, ...serverEvents];
  for (let id = pending.shift(); id !== undefined; id = pending.shift()) {
    if (componentsSchemas[id]) continue;
    const found = new Set<string>();
    const { $id: _id, ...copy } = copySchema(lookup(id), found);
    componentsSchemas[id] = copy;
    pending.push(...found);
  }

  const messages: Record<string, Json> = {};
  for (const id of [...clientMessages, ...serverEvents]) {
    const schema = lookup(id);
    const names = typeNames(schema);
    messages[id] = {
      name: id,
      title: names.length > 0 ? names.join(" | ") : id,
      ...(typeof schema.description === "string" ? { summary: schema.description } : {}),
      contentType: "application/json",
      payload: schemaRef(id),
    };
  }
  const channelMessage = (id: string) => ({ $ref: `#/channels/${CHANNEL}/messages/${id}` });

  const replies = ["SubscriptionEvent", "LiveErrorEvent"].filter((id) => serverEvents.includes(id));
  const operations: Record<string, Json> = {};
  for (const id of clientMessages) {
    operations[`receive${id}`] = {
      action: "receive",
      channel: { $ref: `#/channels/${CHANNEL}` },
      title: messages[id]!.title,
      summary: `A client sends ${messages[id]!.title}`,
      messages: [channelMessage(id)],
      ...(replies.length > 0
        ? { reply: { channel: { $ref: `#/channels/${CHANNEL}` }, messages: replies.map(channelMessage) } }
        : {}),
    };
  }
  for (const id of serverEvents) {
    operations[`send${id}`] = {
      action: "send",
      channel: { $ref: `#/channels/${CHANNEL}` },
      title: messages[id]!.title,
      summary: `The server sends ${messages[id]!.title}`,
      messages: [channelMessage(id)],
    };
  }

  return {
    asyncapi: "3.0.0",
    info: {
      title: "Mimic live events",
      version,
      description:
        "Live session events over a WebSocket. Connect to `/api/ws` with `Authorization: Bearer <token or API key>` " +
        "(or `?token=` where headers cannot be set, as in browsers), then send JSON messages: " +
        '`{"type": "subscribe", "sessionId": "…"}` to receive that session\'s events, `unsubscribe` to stop. ' +
        "Another user's session answers an `error` event (`RESOURCE_NOT_FOUND`), never data. The server closes " +
        "the connection with 1008 past the per-user connection limit (MIMIC_WS_MAX_CONNECTIONS) and with 1001 " +
        "when it shuts down. This document describes the server: it receives the client's messages and sends events. " +
        "The HTTP API is described by /openapi.json.",
      license: { name: "MIT" },
    },
    defaultContentType: "application/json",
    servers: {
      local: {
        host: "localhost:4000",
        protocol: "ws",
        description: "Local development (wss behind TLS)",
        security: [
          { $ref: "#/components/securitySchemes/bearerAuth" },
          { $ref: "#/components/securitySchemes/queryToken" },
        ],
      },
    },
    channels: {
      [CHANNEL]: {
        address: "/api/ws",
        title: "Live session events",
        description: "One connection carries the events of every session it subscribed to.",
        messages: Object.fromEntries(
          Object.keys(messages).map((id) => [id, { $ref: `#/components/messages/${id}` }]),
        ),
        bindings: {
          ws: {
            method: "GET",
            query: {
              type: "object",
              properties: {
                token: {
                  type: "string",
                  description: "An access token or API key, when no header can be set",
                },
              },
            },
            bindingVersion: "0.1.0",
          },
        },
      },
    },
    operations,
    components: {
      schemas: componentsSchemas,
      messages,
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "An access token from POST /api/auth/login, or an API key (`mk_…`)",
        },
        queryToken: {
          type: "httpApiKey",
          name: "token",
          in: "query",
          description: "The same token as a query parameter, for browsers",
        },
      },
    },
  };
}
