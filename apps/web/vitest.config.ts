import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@mimic/source"] },
  ssr: { resolve: { conditions: ["@mimic/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    // One browser and one server for the whole file; its tests follow one user's story in order.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
