// Audio plumbing for phone calls: Twilio Media Streams carry 8 kHz mono μ-law in 20 ms frames; speech engines
// speak and hear WAV at other rates. Everything here works on 16-bit signed PCM (Int16Array) in between.
import alawmulaw from "alawmulaw";

export const SAMPLE_RATE = 8000;
export const FRAME_MS = 20;
/** One 20 ms frame at 8 kHz = 160 μ-law bytes. */
export const FRAME_SAMPLES = 160;
/** μ-law code for zero; Twilio fills quiet stretches of a call with it. */
export const MULAW_SILENCE = 0xff;

export function mulawEncode(pcm: Int16Array): Buffer {
  const bytes = alawmulaw.mulaw.encode(pcm);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function mulawDecode(mulaw: Uint8Array): Int16Array {
  return alawmulaw.mulaw.decode(mulaw);
}

/** A 16-bit PCM mono WAV file with the canonical 44-byte header. */
export function wavFromPcm(pcm: Int16Array, sampleRate: number = SAMPLE_RATE): Buffer {
  const dataBytes = pcm.length * 2;
  const wav = Buffer.alloc(44 + dataBytes);
  wav.write("RIFF", 0, "ascii");
  wav.writeUInt32LE(36 + dataBytes, 4);
  wav.write("WAVE", 8, "ascii");
  wav.write("fmt ", 12, "ascii");
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(sampleRate, 24);
  wav.writeUInt32LE(sampleRate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write("data", 36, "ascii");
  wav.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < pcm.length; i++) wav.writeInt16LE(pcm[i]!, 44 + i * 2);
  return wav;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

/**
 * Decodes a WAV file to 16-bit mono PCM: integer PCM of 8/16/24/32 bits, 32/64-bit float, μ-law and a-law;
 * channels are averaged. Streamed WAVs whose data size is unknown (0 or 0xFFFFFFFF, as some TTS endpoints
 * send) are read to the end of the buffer.
 */
export function pcmFromWav(wav: Uint8Array): { pcm: Int16Array; sampleRate: number } {
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  const tag = (offset: number) => String.fromCharCode(...wav.subarray(offset, offset + 4));
  if (wav.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") {
    throw new Error("not a WAV file: expected a RIFF/WAVE header");
  }
  let format: {
    code: number;
    channels: number;
    sampleRate: number;
    bits: number;
    blockAlign: number;
  } | null = null;
  let offset = 12;
  while (offset + 8 <= wav.byteLength) {
    const id = tag(offset);
    const declared = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === "fmt ") {
      if (declared < 16 || body + 16 > wav.byteLength) throw new Error("not a WAV file: truncated fmt chunk");
      let code = view.getUint16(body, true);
      if (code === FORMAT_EXTENSIBLE && declared >= 26) code = view.getUint16(body + 24, true);
      format = {
        code,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        blockAlign: view.getUint16(body + 12, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === "data") {
      if (!format) throw new Error("not a WAV file: data chunk before fmt chunk");
      const available = wav.byteLength - body;
      const size = declared === 0 || declared > available ? available : declared;
      return { pcm: decodeSamples(view, body, size, format), sampleRate: format.sampleRate };
    }
    offset = body + declared + (declared % 2);
  }
  throw new Error("not a WAV file: no data chunk");
}

function decodeSamples(
  view: DataView,
  start: number,
  size: number,
  format: { code: number; channels: number; bits: number; blockAlign: number },
): Int16Array {
  const { code, channels, bits } = format;
  const bytesPerSample = bits / 8;
  if (channels < 1 || !Number.isInteger(bytesPerSample) || bytesPerSample < 1) {
    throw new Error(`unsupported WAV: ${channels} channels of ${bits}-bit samples`);
  }
  const blockAlign = format.blockAlign || channels * bytesPerSample;
  const read = sampleReader(view, code, bits);
  const frames = Math.floor(size / blockAlign);
  const pcm = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(start + i * blockAlign + c * bytesPerSample);
    pcm[i] = clamp16(sum / channels);
  }
  return pcm;
}

/** A reader returning one sample scaled to the 16-bit range. */
function sampleReader(view: DataView, code: number, bits: number): (at: number) => number {
  if (code === FORMAT_PCM) {
    if (bits === 8) return (at) => (view.getUint8(at) - 128) * 256;
    if (bits === 16) return (at) => view.getInt16(at, true);
    if (bits === 24) return (at) => ((view.getUint8(at + 2) << 24) | (view.getUint16(at, true) << 8)) / 65536;
    if (bits === 32) return (at) => view.getInt32(at, true) / 65536;
  }
  if (code === FORMAT_FLOAT) {
    if (bits === 32) return (at) => floatTo16(view.getFloat32(at, true));
    if (bits === 64) return (at) => floatTo16(view.getFloat64(at, true));
  }
  if (code === FORMAT_MULAW && bits === 8) return (at) => alawmulaw.mulaw.decodeSample(view.getUint8(at));
  if (code === FORMAT_ALAW && bits === 8) return (at) => alawmulaw.alaw.decodeSample(view.getUint8(at));
  throw new Error(`unsupported WAV: format ${code} with ${bits}-bit samples`);
}

/** [-1, 1] → [-32768, 32767], the usual asymmetric scaling. */
function floatTo16(x: number): number {
  return x < 0 ? x * 32768 : x * 32767;
}

function clamp16(value: number): number {
  const rounded = Math.round(value);
  return rounded > 32767 ? 32767 : rounded < -32768 ? -32768 : rounded;
}

/** Zero crossings of the windowed-sinc kernel on each side; more = sharper low-pass, more work. */
const KERNEL_ZERO_CROSSINGS = 12;
/** Cut-off as a share of the lower Nyquist frequency, leaving room for the transition band. */
const CUTOFF = 0.92;

/**
 * Band-limited resampling with a Blackman-windowed sinc (the low-pass sits below the lower of the two Nyquist
 * frequencies, so downsampling does not alias). Kernels are precomputed per phase of the rational rate ratio.
 */
export function resample(pcm: Int16Array, from: number, to: number): Int16Array {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from > 0 && to > 0)) {
    throw new Error(`cannot resample from ${from} Hz to ${to} Hz`);
  }
  if (from === to) return pcm.slice();
  const g = gcd(from, to);
  const up = to / g; // output samples per `down` input samples
  const down = from / g;
  const fc = Math.min(1, to / from) * CUTOFF; // cut-off in cycles per input sample, ×2
  const halfWidth = Math.ceil(KERNEL_ZERO_CROSSINGS / fc);
  const taps = 2 * halfWidth + 1;
  const outLength = Math.floor((pcm.length * up) / down);
  const kernelFor = (phase: number): Float64Array => {
    // Output sample at input position base + phase/up; tap j weighs input sample base - halfWidth + j.
    const kernel = new Float64Array(taps);
    const frac = phase / up;
    for (let j = 0; j < taps; j++) {
      const t = j - halfWidth - frac;
      const w = Math.abs(t) >= halfWidth ? 0 : blackman(t / halfWidth);
      kernel[j] = fc * sinc(fc * t) * w;
    }
    return kernel;
  };
  const cached = up <= 4096 ? new Map<number, Float64Array>() : null;
  const out = new Int16Array(outLength);
  for (let i = 0; i < outLength; i++) {
    const position = i * down;
    const base = Math.floor(position / up);
    const phase = position - base * up;
    let kernel = cached?.get(phase);
    if (!kernel) {
      kernel = kernelFor(phase);
      cached?.set(phase, kernel);
    }
    let acc = 0;
    const first = base - halfWidth;
    const jStart = Math.max(0, -first);
    const jEnd = Math.min(taps, pcm.length - first);
    for (let j = jStart; j < jEnd; j++) acc += pcm[first + j]! * kernel[j]!;
    out[i] = clamp16(acc);
  }
  return out;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

/** Blackman window over x in [-1, 1]. */
function blackman(x: number): number {
  const a = Math.PI * (x + 1);
  return 0.42 - 0.5 * Math.cos(a) + 0.08 * Math.cos(2 * a);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function durationMs(samples: number, sampleRate: number = SAMPLE_RATE): number {
  return (samples * 1000) / sampleRate;
}

/**
 * Heuristic: true when a μ-law payload looks like 16-bit linear PCM sent by mistake. Two signs, either suffices:
 * - Byte-pair structure: a μ-law stream has one byte per sample, so even and odd bytes share one distribution.
 *   In little-endian PCM the high bytes of speech cluster on a few values (near 0x00 and 0xFF) while the low
 *   bytes spread out. We compare the collision probability (Σ p², how concentrated a histogram is) of the even
 *   and odd bytes; a ratio of 3 or more means byte pairs.
 * - Full scale: μ-law codes 0x00–0x0F and 0x80–0x8F are the loudest segment (|x| ≥ 16 k). Real speech
 *   rarely gets there, but zero or quiet PCM is made of high bytes 0x00 (read as full-scale negative μ-law):
 *   more than 25 % of such codes means linear PCM.
 * Payloads under 160 bytes are too short to judge (false).
 */
export function looksLikeLinearPcm(bytes: Uint8Array): boolean {
  if (bytes.length < FRAME_SAMPLES) return false;
  const even = new Float64Array(256);
  const odd = new Float64Array(256);
  let fullScale = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (i % 2 === 0) even[b]!++;
    else odd[b]!++;
    if ((b & 0x70) === 0) fullScale++;
  }
  if (fullScale / bytes.length > 0.25) return true;
  const concentration = (histogram: Float64Array) => {
    const total = histogram.reduce((a, b) => a + b, 0);
    return histogram.reduce((a, n) => a + (n / total) ** 2, 0);
  };
  const e = concentration(even);
  const o = concentration(odd);
  return Math.max(e, o) / Math.min(e, o) >= 3;
}
