// The dashboard's build and dev server. In development the API runs beside it (`pnpm dev`): /api (with the live
// events' WebSocket) and the API's documents are proxied to it, so the app always calls its own origin.
import react from "@vitejs/plugin-react";
import { defaultClientConditions, defineConfig } from "vite";

const api = process.env.MIMIC_API_URL ?? "http://127.0.0.1:4000";

export default defineConfig({
  plugins: [react()],
  // The SDK's TypeScript source (its exports' `@mimic/source` condition): no SDK build needed, and edits reload.
  resolve: { conditions: ["@mimic/source", ...defaultClientConditions] },
  server: {
    port: Number(process.env.MIMIC_WEB_PORT ?? 5173),
    proxy: {
      "/api": { target: api, ws: true },
      "/health": api,
      "/docs": api,
      "/openapi.json": api,
    },
  },
  build: { outDir: process.env.MIMIC_WEB_OUT_DIR ?? "dist", emptyOutDir: true, sourcemap: true },
});
