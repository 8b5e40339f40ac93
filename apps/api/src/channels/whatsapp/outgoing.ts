// What a bot POSTs to /{version}/{phone_number_id}/messages: validated as Meta documents it (limits from the Cloud
// API reference), and turned into the line a transcript shows plus the message's WhatsApp metadata.
// A missing or malformed field is a 100; a value outside Meta's limits is a 131009.
import type { WhatsappMessageMeta } from "@mimic/db";
import { renderOptions } from "../../engine/persona/choices.js";
import { invalidParameter, valueInvalid } from "./errors.js";

export const MEDIA_TYPES = ["image", "audio", "video", "document", "sticker"] as const;
const TYPES = ["text", "interactive", "template", "reaction", "location", "contacts", ...MEDIA_TYPES];

/** A message the bot sends to the persona. */
export interface OutgoingMessage {
  kind: "message";
  /** The recipient as given (`to`). */
  to: string;
  type: string;
  /** The transcript line. */
  content: string;
  meta: WhatsappMessageMeta;
  /** Templates may be sent outside the 24-hour customer-service window; nothing else may. */
  template: boolean;
  /** Media ids the message refers to: each must be one the agent uploaded. */
  mediaIds: string[];
}

/** `{"status":"read","message_id"}`: the bot marks a persona message read (and may show typing). */
export interface ReadReceipt {
  kind: "read";
  messageId: string;
  typing: boolean;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function object(parent: Json, key: string, path: string): Json {
  const value = parent[key];
  if (!isObject(value)) throw invalidParameter(`The parameter ${path} is required and must be an object`);
  return value;
}

function optionalObject(parent: Json, key: string, path: string): Json | undefined {
  return parent[key] === undefined ? undefined : object(parent, key, path);
}

function string(
  parent: Json,
  key: string,
  path: string,
  limits: { max?: number; min?: number; optional?: boolean } = {},
): string {
  const value = parent[key];
  if (value === undefined && limits.optional) return "";
  if (typeof value !== "string")
    throw invalidParameter(`The parameter ${path} is required and must be a string`);
  const min = limits.min ?? (limits.optional ? 0 : 1);
  if (value.length < min || (limits.max !== undefined && value.length > limits.max)) {
    throw valueInvalid(
      limits.max !== undefined
        ? `${path} length invalid. Min length: ${min}, Max length: ${limits.max} (got ${value.length})`
        : `${path} must not be empty`,
    );
  }
  return value;
}

function array(parent: Json, key: string, path: string, min: number, max: number): unknown[] {
  const value = parent[key];
  if (!Array.isArray(value)) throw invalidParameter(`The parameter ${path} is required and must be an array`);
  if (value.length < min || value.length > max)
    throw valueInvalid(`${path} must have between ${min} and ${max} items (got ${value.length})`);
  return value;
}

function httpUrl(value: string, path: string) {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !["http:", "https:"].includes(url.protocol))
    throw valueInvalid(`${path} must be an http(s) URL`);
}

function unique(values: string[], path: string) {
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) throw valueInvalid(`${path} must be unique; "${value}" appears twice`);
    seen.add(value);
  }
}

const lines = (...parts: (string | undefined)[]) => parts.filter((p) => p && p.trim() !== "").join("\n");

/** Parses what the bot sent: a message to the persona, or a read receipt. Throws GraphError. */
export function parseOutgoing(body: unknown): OutgoingMessage | ReadReceipt {
  if (!isObject(body)) throw invalidParameter("The request body must be a JSON object");
  if (body.messaging_product !== "whatsapp")
    throw invalidParameter('The parameter messaging_product is required and must be "whatsapp"');
  if (body.status !== undefined) {
    if (body.status !== "read") throw invalidParameter('The parameter status must be "read"');
    const typing = optionalObject(body, "typing_indicator", "typing_indicator");
    if (typing && typing.type !== "text") throw invalidParameter('typing_indicator.type must be "text"');
    return { kind: "read", messageId: string(body, "message_id", "message_id"), typing: !!typing };
  }
  if (body.recipient_type !== undefined && body.recipient_type !== "individual")
    throw invalidParameter('The parameter recipient_type must be "individual"');
  const to = string(body, "to", "to");
  if (!/^\+?[0-9][0-9 ()-]{5,24}$/.test(to))
    throw invalidParameter(`The parameter to is not a phone number: ${to}`);
  const type = body.type === undefined ? "text" : body.type;
  if (typeof type !== "string" || !TYPES.includes(type))
    throw invalidParameter(`The parameter type must be one of ${TYPES.join(", ")}`);
  const context = optionalObject(body, "context", "context");
  const contextId = context ? string(context, "message_id", "context.message_id") : undefined;
  const parsed = type === "contacts" ? parseContacts(body) : parseByType(type, object(body, type, type));
  const meta: WhatsappMessageMeta = { type, ...parsed.meta };
  if (contextId && !meta.context) meta.context = contextId;
  return {
    kind: "message",
    to,
    type,
    content: parsed.content.slice(0, 32 * 1024),
    meta,
    template: type === "template",
    mediaIds: parsed.mediaIds ?? [],
  };
}

interface Parsed {
  content: string;
  meta: WhatsappMessageMeta;
  mediaIds?: string[];
}

function parseByType(type: string, payload: Json): Parsed {
  switch (type) {
    case "text": {
      const body = string(payload, "body", "text.body", { max: 4096 });
      if (payload.preview_url !== undefined && typeof payload.preview_url !== "boolean")
        throw invalidParameter("text.preview_url must be a boolean");
      return { content: body, meta: {} };
    }
    case "interactive":
      return parseInteractive(payload);
    case "template":
      return parseTemplate(payload);
    case "reaction": {
      const messageId = string(payload, "message_id", "reaction.message_id");
      const emoji = string(payload, "emoji", "reaction.emoji", { optional: true, max: 16 });
      return {
        content: emoji ? `[reaction] ${emoji}` : "[reaction removed]",
        meta: { context: messageId },
      };
    }
    case "location": {
      const coordinate = (key: string, limit: number) => {
        const value = payload[key];
        if (typeof value !== "number" && typeof value !== "string")
          throw invalidParameter(`The parameter location.${key} is required`);
        const n = Number(value);
        if (!Number.isFinite(n) || Math.abs(n) > limit)
          throw valueInvalid(`location.${key} must be a number between -${limit} and ${limit}`);
        return n;
      };
      const latitude = coordinate("latitude", 90);
      const longitude = coordinate("longitude", 180);
      const name = string(payload, "name", "location.name", { optional: true, max: 1000 });
      const address = string(payload, "address", "location.address", { optional: true, max: 1000 });
      const place = [name, address].filter(Boolean).join(", ");
      return { content: `[location] ${place ? `${place} ` : ""}(${latitude}, ${longitude})`, meta: {} };
    }
    default:
      return parseMedia(type, payload);
  }
}

/** `contacts` is the one type whose payload is an array. */
function parseContacts(body: Json): Parsed {
  const contacts = array(body, "contacts", "contacts", 1, 257);
  const names = contacts.map((c, i) => {
    if (!isObject(c)) throw invalidParameter(`contacts[${i}] must be an object`);
    const name = object(c, "name", `contacts[${i}].name`);
    const formatted = string(name, "formatted_name", `contacts[${i}].name.formatted_name`, { max: 1000 });
    const phones = Array.isArray(c.phones)
      ? c.phones.filter(isObject).map((p) => String(p.phone ?? p.wa_id ?? ""))
      : [];
    return [formatted, ...phones.filter(Boolean)].join(" ");
  });
  return { content: `[contact] ${names.join("; ")}`, meta: {} };
}

function parseMedia(type: string, payload: Json): Parsed {
  const id = string(payload, "id", `${type}.id`, { optional: true, max: 64 });
  const link = string(payload, "link", `${type}.link`, { optional: true, max: 2048 });
  if (!id === !link) throw invalidParameter(`${type} needs exactly one of id and link`);
  if (link) httpUrl(link, `${type}.link`);
  const captioned = type === "image" || type === "video" || type === "document";
  if (!captioned && payload.caption !== undefined) throw invalidParameter(`${type} messages take no caption`);
  const caption = captioned
    ? string(payload, "caption", `${type}.caption`, { optional: true, max: 1024 })
    : "";
  const filename =
    type === "document" ? string(payload, "filename", "document.filename", { optional: true, max: 240 }) : "";
  const label = filename ? `[${type}: ${filename}]` : `[${type}]`;
  return {
    content: caption ? `${label} ${caption}` : label,
    meta: { media: { ...(id ? { id } : { link }), ...(filename ? { filename } : {}) } },
    mediaIds: id ? [id] : [],
  };
}

function parseInteractive(payload: Json): Parsed {
  const kind = payload.type;
  if (kind !== "button" && kind !== "list" && kind !== "cta_url")
    throw invalidParameter("interactive.type must be one of button, list, cta_url");
  const header = optionalObject(payload, "header", "interactive.header");
  let headerText: string | undefined;
  if (header) {
    const headerType = header.type;
    if (headerType === "text") headerText = string(header, "text", "interactive.header.text", { max: 60 });
    else if (kind === "list" || !["image", "video", "document"].includes(String(headerType)))
      throw invalidParameter(
        kind === "list"
          ? 'interactive.header.type of a list must be "text"'
          : "interactive.header.type must be one of text, image, video, document",
      );
  }
  const body = string(object(payload, "body", "interactive.body"), "text", "interactive.body.text", {
    max: kind === "list" ? 4096 : 1024,
  });
  const footer = optionalObject(payload, "footer", "interactive.footer");
  const footerText = footer ? string(footer, "text", "interactive.footer.text", { max: 60 }) : undefined;
  const action = object(payload, "action", "interactive.action");

  if (kind === "cta_url") {
    if (action.name !== "cta_url") throw invalidParameter('interactive.action.name must be "cta_url"');
    const parameters = object(action, "parameters", "interactive.action.parameters");
    const display = string(parameters, "display_text", "interactive.action.parameters.display_text", {
      max: 20,
    });
    const url = string(parameters, "url", "interactive.action.parameters.url", { max: 2048 });
    httpUrl(url, "interactive.action.parameters.url");
    return {
      content: lines(headerText, body, footerText, `${display}: ${url}`),
      meta: { interactive: { type: "cta_url", url } },
    };
  }

  if (kind === "button") {
    const buttons = array(action, "buttons", "interactive.action.buttons", 1, 3).map((b, i) => {
      const path = `interactive.action.buttons[${i}]`;
      if (!isObject(b) || b.type !== "reply") throw invalidParameter(`${path}.type must be "reply"`);
      const reply = object(b, "reply", `${path}.reply`);
      return {
        id: string(reply, "id", `${path}.reply.id`, { max: 256 }),
        title: string(reply, "title", `Button title`, { max: 20 }),
      };
    });
    unique(
      buttons.map((b) => b.id),
      "Button ids",
    );
    unique(
      buttons.map((b) => b.title),
      "Button titles",
    );
    return {
      content: lines(headerText, body, footerText, renderOptions(buttons)),
      meta: { interactive: { type: "button", options: buttons } },
    };
  }

  string(action, "button", "interactive.action.button", { max: 20 });
  const sections = array(action, "sections", "interactive.action.sections", 1, 10);
  const rows: { id: string; title: string; description?: string }[] = [];
  sections.forEach((section, s) => {
    const path = `interactive.action.sections[${s}]`;
    if (!isObject(section)) throw invalidParameter(`${path} must be an object`);
    string(section, "title", `${path}.title`, { max: 24, optional: sections.length === 1 });
    array(section, "rows", `${path}.rows`, 1, 10).forEach((row, r) => {
      const rowPath = `${path}.rows[${r}]`;
      if (!isObject(row)) throw invalidParameter(`${rowPath} must be an object`);
      const description = string(row, "description", `${rowPath}.description`, { optional: true, max: 72 });
      rows.push({
        id: string(row, "id", `${rowPath}.id`, { max: 200 }),
        title: string(row, "title", `${rowPath}.title`, { max: 24 }),
        ...(description ? { description } : {}),
      });
    });
  });
  if (rows.length > 10) throw valueInvalid(`A list may have at most 10 rows in all (got ${rows.length})`);
  unique(
    rows.map((r) => r.id),
    "Row ids",
  );
  return {
    content: lines(headerText, body, footerText, renderOptions(rows)),
    meta: { interactive: { type: "list", options: rows } },
  };
}

function parseTemplate(payload: Json): Parsed {
  const name = string(payload, "name", "template.name", { max: 512 });
  if (!/^[a-z0-9_]+$/.test(name))
    throw valueInvalid("template.name may hold only lowercase letters, digits and underscores");
  const language = object(payload, "language", "template.language");
  const code = string(language, "code", "template.language.code", { max: 15 });
  const params: string[] = [];
  if (payload.components !== undefined) {
    array(payload, "components", "template.components", 0, 20).forEach((component, i) => {
      const path = `template.components[${i}]`;
      if (!isObject(component)) throw invalidParameter(`${path} must be an object`);
      const kind = String(component.type ?? "").toLowerCase();
      if (!["header", "body", "footer", "button", "buttons", "carousel", "limited_time_offer"].includes(kind))
        throw invalidParameter(`${path}.type must be one of header, body, button`);
      if (component.parameters === undefined) return;
      array(component, "parameters", `${path}.parameters`, 0, 100).forEach((parameter, p) => {
        if (!isObject(parameter) || typeof parameter.type !== "string")
          throw invalidParameter(`${path}.parameters[${p}].type is required`);
        if (parameter.type === "text")
          params.push(string(parameter, "text", `${path}.parameters[${p}].text`, { max: 32_768 }));
      });
    });
  }
  return {
    content: `[template ${name} (${code})]${params.length ? ` ${params.join(" | ")}` : ""}`,
    meta: { template: { name, language: code } },
  };
}
