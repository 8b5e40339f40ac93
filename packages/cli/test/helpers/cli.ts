// Runs the CLI in process — main() with buffers for its streams — and writes suite files to temporary folders.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/main.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

class Buffer {
  text = "";
  isTTY = false;
  write(chunk: string) {
    this.text += chunk;
    return true;
  }
}

/** `mimic <argv…>` in `cwd`, with exactly `env` as its environment (plus NO_COLOR). */
export async function mimic(
  argv: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const stdout = new Buffer();
  const stderr = new Buffer();
  const code = await main(argv, { cwd, env: { NO_COLOR: "1", ...env }, stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** A new temporary folder holding `files` (name → content). */
export async function folder(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mimic-cli-test-"));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

/** Session settings that make a run last about a second. */
export const FAST_CONFIG = "{ maxMessages: 10, messageInterval: 0.2, replyTimeout: 2, duration: 30 }";
