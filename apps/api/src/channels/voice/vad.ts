// Voice activity detection on call audio with WebRTC's VAD (libfvad compiled to WASM), at 8 kHz.
import { FRAME_SAMPLES, SAMPLE_RATE } from "./audio.js";

export interface Vad {
  /** `frame` = 160 samples (20 ms at 8 kHz). */
  isSpeech(frame: Int16Array): boolean;
  reset(): void;
  free(): void;
}

interface FvadModule {
  _fvad_new(): number;
  _fvad_free(handle: number): void;
  _fvad_reset(handle: number): void;
  _fvad_set_mode(handle: number, mode: number): number;
  _fvad_set_sample_rate(handle: number, rate: number): number;
  _fvad_process(handle: number, frame: number, length: number): number;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  HEAP16: Int16Array;
}

// The package ships no type declarations; a string-typed specifier keeps TypeScript from looking for them.
const FVAD_PACKAGE: string = "@echogarden/fvad-wasm";
let loading: Promise<FvadModule> | null = null;

/** The WASM module, instantiated once per process and shared by every Vad. */
function fvadModule(): Promise<FvadModule> {
  loading ??= import(FVAD_PACKAGE)
    .then((m: { default: () => Promise<FvadModule> }) => m.default())
    .catch((error: unknown) => {
      loading = null;
      throw error;
    });
  return loading;
}

/** A VAD with its own fvad instance; aggressiveness 0 (least) to 3 (most eager to call audio non-speech). */
export async function createVad(mode: 0 | 1 | 2 | 3 = 2): Promise<Vad> {
  const fvad = await fvadModule();
  const handle = fvad._fvad_new();
  if (!handle) throw new Error("fvad: out of memory");
  if (fvad._fvad_set_mode(handle, mode) !== 0 || fvad._fvad_set_sample_rate(handle, SAMPLE_RATE) !== 0) {
    fvad._fvad_free(handle);
    throw new Error(`fvad: cannot use mode ${mode} at ${SAMPLE_RATE} Hz`);
  }
  const scratch = fvad._malloc(FRAME_SAMPLES * 2);
  let freed = false;
  return {
    isSpeech(frame) {
      if (freed) throw new Error("fvad: this VAD was freed");
      if (frame.length !== FRAME_SAMPLES) {
        throw new Error(`fvad: a frame is ${FRAME_SAMPLES} samples, got ${frame.length}`);
      }
      // Read HEAP16 each time: the heap view is replaced when WASM memory grows.
      fvad.HEAP16.set(frame, scratch >> 1);
      const result = fvad._fvad_process(handle, scratch, FRAME_SAMPLES);
      if (result < 0) throw new Error("fvad: frame rejected");
      return result === 1;
    },
    reset() {
      if (!freed) fvad._fvad_reset(handle);
    },
    free() {
      if (freed) return;
      freed = true;
      fvad._free(scratch);
      fvad._fvad_free(handle);
    },
  };
}
