#!/usr/bin/env node
// The `mimic` executable: runs main() with this process's streams and exits with its code. Ctrl-C stops the
// sessions in flight and cleans up (a second Ctrl-C exits at once).
import { main } from "./main.js";

const controller = new AbortController();
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write(`\n${signal}: stopping the sessions in flight… (again to quit at once)\n`);
  controller.abort(new Error(`interrupted by ${signal}`));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

main(process.argv.slice(2), { signal: controller.signal }).then(
  (code) => {
    process.exitCode = code;
    // Whatever still holds the event loop (a keep-alive socket) must not keep a finished run alive.
    setTimeout(() => process.exit(code), 1000).unref();
  },
  (error: unknown) => {
    process.stderr.write(
      `mimic: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
