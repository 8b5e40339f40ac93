export * from "./agents.js";
export * from "./api-keys.js";
export * from "./enums.js";
export * from "./messages.js";
export * from "./personas.js";
export * from "./sessions.js";
export * from "./users.js";
export * from "./whatsapp-media.js";
