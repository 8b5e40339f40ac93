export * from "./client.js";
export * from "./open.js";
export * from "./schema/index.js";
