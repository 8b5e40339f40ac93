// Graph's error envelope, as a WhatsApp client library expects it:
// {"error":{"message","type","code","error_data":{"messaging_product","details"},"error_subcode"?,"fbtrace_id"}}.
import { newTraceId } from "./ids.js";

export class GraphError extends Error {
  constructor(
    readonly code: number,
    /** Graph's short title ("Parameter value is not valid"). */
    readonly title: string,
    /** What exactly was wrong (error_data.details). */
    readonly details: string,
    readonly httpStatus = 400,
    readonly type = "OAuthException",
    readonly subcode?: number,
  ) {
    super(code === 190 || subcode ? title : `(#${code}) ${title}`);
    this.name = "GraphError";
  }

  body() {
    return {
      error: {
        message: this.message,
        type: this.type,
        code: this.code,
        ...(this.subcode ? { error_subcode: this.subcode } : {}),
        error_data: { messaging_product: "whatsapp", details: this.details },
        fbtrace_id: newTraceId(),
      },
    };
  }

  /** How the refusal reads in a transcript finding. */
  get finding() {
    return `${this.message}: ${this.details}`;
  }
}

/** 190: no token, or not the token of the agent that owns the phone number id. */
export const invalidToken = (details = "The access token could not be decrypted or is not valid") =>
  new GraphError(190, "Invalid OAuth access token - Cannot parse access token", details, 401);

/** 100, subcode 33: an object id (phone number id, media id) that does not exist or is not the caller's. */
export const unknownObject = (id: string) =>
  new GraphError(
    100,
    `Unsupported post request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
    `Object with ID '${id}' does not exist or is not yours`,
    400,
    "GraphMethodException",
    33,
  );

/** 100: a required parameter is missing or has the wrong shape. */
export const invalidParameter = (details: string) => new GraphError(100, "Invalid parameter", details);

/** 131009: a value outside Meta's limits (lengths, counts, duplicates, unknown media). */
export const valueInvalid = (details: string) =>
  new GraphError(131009, "Parameter value is not valid", details);

/** 131030: the recipient is not the persona of a session of this agent. */
export const recipientNotAllowed = (to: string) =>
  new GraphError(
    131030,
    "Recipient phone number not in allowed list",
    `Recipient phone number ${to} is not the customer of a running session of this agent`,
  );

/** 131047: a free-form message more than 24 hours after the customer's last message. */
export const reengagement = () =>
  new GraphError(
    131047,
    "Re-engagement message",
    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
  );

/** 131053: a media upload Graph would refuse (type, size). */
export const mediaUploadError = (details: string) => new GraphError(131053, "Media upload error", details);

/** 130429: the phone number's request budget is spent. */
export const rateLimitHit = (details: string) => new GraphError(130429, "Rate limit hit", details, 429);

/** 2500: a path Graph does not have. */
export const unknownPath = (path: string) =>
  new GraphError(2500, "Unknown path components", `Unknown path components: ${path}`, 400);
