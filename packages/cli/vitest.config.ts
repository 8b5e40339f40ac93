import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@mimic/source"] },
  ssr: { resolve: { conditions: ["@mimic/source"] } },
  test: { testTimeout: 120_000, hookTimeout: 120_000 },
});
