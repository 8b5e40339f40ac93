// Media the bot uploads (POST /{phone_number_id}/media, multipart) and reads back (GET /{media_id} → metadata and a
// download URL that needs the same access token). Stored in the database, per agent, with Meta's type and size limits.
import { createHash } from "node:crypto";
import type { Database } from "@mimic/db";
import { invalidParameter, mediaUploadError } from "./errors.js";
import type { Caller } from "./graph.js";
import { newMediaId } from "./ids.js";
import { insertMedia } from "./store.js";

/** Mimic keeps uploads up to this size (Meta allows documents up to 100 MB; a test tool needs less). */
export const MEDIA_MAX_BYTES = 16 * 1024 * 1024;

/** Meta's accepted types, and the size limit of each kind (bytes). */
const KINDS: { kind: string; max: number; types: string[] }[] = [
  {
    kind: "audio",
    max: 16_000_000,
    types: ["audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"],
  },
  {
    kind: "document",
    max: 100_000_000,
    types: [
      "text/plain",
      "application/pdf",
      "application/vnd.ms-powerpoint",
      "application/msword",
      "application/vnd.ms-excel",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      "application/vnd.openxmlformats-officedocument.presentationml.presentation",
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ],
  },
  { kind: "image", max: 5_000_000, types: ["image/jpeg", "image/png"] },
  { kind: "sticker", max: 500_000, types: ["image/webp"] },
  { kind: "video", max: 16_000_000, types: ["video/mp4", "video/3gpp", "video/3gp"] },
];

/** Parses the multipart upload and stores the file; answers `{id}`. */
export async function uploadMedia(db: Database, caller: Caller, raw: Buffer, contentType: string) {
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(raw), { headers: { "content-type": contentType } }).formData();
  } catch {
    throw invalidParameter("The upload must be multipart/form-data with messaging_product, type and file");
  }
  if (form.get("messaging_product") !== "whatsapp")
    throw invalidParameter('The parameter messaging_product is required and must be "whatsapp"');
  const file = form.get("file");
  if (!file || typeof file === "string") throw invalidParameter("The parameter file is required");
  const declared = form.get("type");
  const mimeType = (typeof declared === "string" && declared ? declared : file.type).split(";")[0]!.trim();
  const kind = KINDS.find((k) => k.types.includes(mimeType));
  if (!kind) throw mediaUploadError(`Unsupported media type ${mimeType || "(none)"}`);
  const limit = Math.min(kind.max, MEDIA_MAX_BYTES);
  if (file.size === 0) throw mediaUploadError("The file is empty");
  if (file.size > limit)
    throw mediaUploadError(`File is too big (${file.size} bytes) for ${kind.kind} (limit ${limit} bytes)`);
  const data = Buffer.from(await file.arrayBuffer());
  const id = newMediaId();
  await insertMedia(db, {
    id,
    agentId: caller.agent.id,
    mimeType,
    fileName: file instanceof File && file.name && file.name !== "blob" ? file.name.slice(0, 240) : null,
    size: data.length,
    sha256: createHash("sha256").update(data).digest("hex"),
    data,
  });
  return { id };
}
