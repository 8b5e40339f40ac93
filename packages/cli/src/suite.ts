// Reading suites: YAML or JSON files → one validated Suite, or every problem found, each naming file, line and
// field (`mimic.yaml:7: scenarios[0].repeat: must be <= 20`). Files are parsed with a LineCounter so any value,
// including one that fails the JSON Schema (mimic.schema.json, generated from the API's), maps back to its line.
import { readFile } from "node:fs/promises";
import { basename, extname, relative, resolve } from "node:path";
import type {
  CreateAgentRequest,
  CreatePersonaRequest,
  CreateSessionRequest,
  SessionCheck,
} from "@mimic/sdk";
import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  parse as parseYaml,
  Scalar,
  visit,
} from "yaml";
import { schemaErrors } from "./schema.js";
import { closest } from "./text.js";

/** One problem in a suite: where (file, line, field) and what. */
export interface Problem {
  file: string;
  line?: number | undefined;
  field?: string | undefined;
  message: string;
}

export function formatProblem(problem: Problem): string {
  const where = problem.line ? `${problem.file}:${problem.line}` : problem.file;
  return `${where}: ${problem.field ? `${problem.field}: ` : ""}${problem.message}`;
}

/** Thrown by loadSuite with every problem it found. */
export class SuiteError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "SuiteError";
  }
}

/** Where a suite entry was written: shown in errors the server gives about it. */
export interface Origin {
  file: string;
  line: number;
  field: string;
}

export interface PersonaSpec {
  key: string;
  /** What is sent to the API, `name` filled in from the key when the suite left it out. */
  body: CreatePersonaRequest;
  origin: Origin;
}

export interface AgentSpec {
  key: string;
  body: CreateAgentRequest;
  origin: Origin;
}

/** A scenario's persona or agent: an entry of the suite, or an existing resource by id. */
export type Reference = { key: string } | { id: string };

export interface ScenarioSpec {
  name: string;
  persona: Reference;
  agent: Reference;
  repeat: number;
  config?: CreateSessionRequest["config"];
  checks?: SessionCheck[];
  inheritChecks?: boolean;
  metadata?: Record<string, unknown>;
  origin: Origin;
}

export interface Suite {
  name: string;
  /** The files, as given (relative to the working directory). */
  files: string[];
  personas: PersonaSpec[];
  agents: AgentSpec[];
  scenarios: ScenarioSpec[];
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Segment = string | number;

/** `scenarios[0].repeat`, `personas.late-parcel.prompt`, `agents["my bot"]`. */
export function fieldPath(path: Segment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** One parsed file: its document, for line numbers, and its plain data. */
class SourceFile {
  constructor(
    readonly display: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  /**
   * The line of the value at `path` (or of its key, with `key`), else of the deepest node that exists on the
   * way there: a missing field is reported where its parent is.
   */
  lineOf(path: Segment[], options: { key?: boolean } = {}): number {
    let node: unknown = this.doc.contents;
    let line = node && (node as Node).range ? this.lineAt((node as Node).range![0]) : 1;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === segment);
        if (!pair) return line;
        const key = pair.key as Node;
        if (key.range) line = this.lineAt(key.range[0]);
        if (last && options.key) return line;
        node = pair.value;
      } else if (isSeq(node)) {
        node = node.items[Number(segment)];
      } else return line;
      const range = (node as Node | null)?.range;
      if (range) line = this.lineAt(range[0]);
    }
    return line;
  }

  origin(path: Segment[]): Origin {
    return { file: this.display, line: this.lineOf(path, { key: true }), field: fieldPath(path) };
  }
}

const VARIABLE_RE = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` (and `${VAR:-default}`) in every string value of the document, in place; `$${VAR}` stays
 * `${VAR}`. A plain (unquoted) value that is one reference and nothing else takes the type its text has in
 * YAML, so `repeat: ${RUNS:-3}` is a number. Keys are left alone.
 */
function interpolate(file: SourceFile, env: Record<string, string | undefined>, problems: Problem[]) {
  visit(file.doc, {
    Scalar(key, node, path) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("$")) return;
      const fields = dataPath(path, node);
      let whole: string | undefined;
      const text = node.value.replace(
        VARIABLE_RE,
        (match, escaped: string, name: string, fallback?: string) => {
          if (escaped) return match.slice(1);
          const value = env[name];
          if (value !== undefined && value !== "") return value;
          if (fallback !== undefined) return fallback;
          problems.push({
            file: file.display,
            line: node.range ? file.lineAt(node.range[0]) : undefined,
            field: fieldPath(fields),
            message: `environment variable ${name} is not set (write $\${${name}} for a literal \${${name}}, or \${${name}:-default})`,
          });
          return match;
        },
      );
      if (node.type === Scalar.PLAIN && /^\$\{[^}]*\}$/.test(node.value)) whole = text;
      node.value = text;
      if (whole !== undefined) {
        const typed: unknown = parseYaml(whole);
        if (typeof typed === "number" || typeof typed === "boolean") node.value = typed;
      }
    },
  });
}

/** The data path (keys and indexes) of a node, from the ancestry `visit` gives. */
function dataPath(ancestors: readonly unknown[], node: unknown): Segment[] {
  const out: Segment[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isSeq(parent)) out.push(parent.items.indexOf(child as never));
    else if (isPair(parent) && parent.value === child && isScalar(parent.key))
      out.push(String(parent.key.value));
  }
  return out;
}

/** `Omit` applied to each member of a union: CreateAgentRequest is one variant per agent type. */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface RawSuite {
  name?: string;
  personas?: Record<string, Omit<CreatePersonaRequest, "name"> & { name?: string }>;
  agents?: Record<string, OmitEach<CreateAgentRequest, "name"> & { name?: string }>;
  scenarios?: (Omit<ScenarioSpec, "persona" | "agent" | "origin" | "repeat"> & {
    persona: string;
    agent: string;
    repeat?: number;
  })[];
}

interface ParsedFile {
  source: SourceFile;
  data: RawSuite;
}

async function parseFile(
  path: string,
  cwd: string,
  env: Record<string, string | undefined>,
  problems: Problem[],
): Promise<ParsedFile | undefined> {
  const absolute = resolve(cwd, path);
  const rel = relative(cwd, absolute);
  const display = rel && !rel.startsWith("..") ? rel : absolute;
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push({
      file: display,
      message:
        code === "ENOENT"
          ? "no such file (create one with `mimic init`)"
          : `cannot read: ${(error as Error).message}`,
    });
    return undefined;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source = new SourceFile(display, doc, lines);
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      problems.push({
        file: display,
        line: source.lineAt(error.pos[0]),
        message: `${extname(display) === ".json" ? "JSON" : "YAML"} syntax error: ${error.message.split("\n")[0]}`,
      });
    }
    return undefined;
  }
  const unset: Problem[] = [];
  interpolate(source, env, unset);
  problems.push(...unset);
  const data = (doc.toJS() ?? {}) as RawSuite;
  // A value still holding an unset ${VAR} is reported once, as such, not again as e.g. "must match format".
  const invalid = schemaErrors(data).filter((e) => !unset.some((u) => u.field === fieldPath(e.path)));
  for (const error of invalid) {
    problems.push({
      file: display,
      line: error.missing
        ? source.lineOf(error.path.slice(0, -1), { key: true })
        : source.lineOf(error.path, { key: error.atKey }),
      field: fieldPath(error.path),
      message: error.message,
    });
  }
  return invalid.length > 0 || unset.length > 0 ? undefined : { source, data };
}

/** In file order, then line order (a stable sort keeps a line's problems as found). */
function sortProblems(problems: Problem[]): Problem[] {
  const order = new Map<string, number>();
  for (const p of problems) if (!order.has(p.file)) order.set(p.file, order.size);
  return [...problems].sort(
    (a, b) => order.get(a.file)! - order.get(b.file)! || (a.line ?? 0) - (b.line ?? 0),
  );
}

export interface LoadOptions {
  cwd: string;
  env: Record<string, string | undefined>;
}

/**
 * Reads, interpolates, validates and merges suite files. Throws SuiteError listing every problem: syntax,
 * unset variables, schema violations, duplicates across files, scenarios naming a persona or agent that is
 * neither a key of the suite nor an id.
 */
export async function loadSuite(files: string[], options: LoadOptions): Promise<Suite> {
  const problems: Problem[] = [];
  const parsed: ParsedFile[] = [];
  // The same file named twice is read once.
  const unique = [...new Map(files.map((f) => [resolve(options.cwd, f), f])).values()];
  for (const file of unique) {
    const result = await parseFile(file, options.cwd, options.env, problems);
    if (result) parsed.push(result);
  }
  if (problems.length > 0) throw new SuiteError(sortProblems(problems));

  const personas = new Map<string, PersonaSpec>();
  const agents = new Map<string, AgentSpec>();
  const scenarioOrigins = new Map<string, Origin>();
  const duplicate = (what: string, origin: Origin, first: Origin) =>
    problems.push({
      file: origin.file,
      line: origin.line,
      field: origin.field,
      message: `${what} is defined twice (first at ${first.file}:${first.line})`,
    });

  for (const { source, data } of parsed) {
    for (const [key, entry] of Object.entries(data.personas ?? {})) {
      const origin = source.origin(["personas", key]);
      const first = personas.get(key);
      if (first) duplicate(`persona "${key}"`, origin, first.origin);
      else personas.set(key, { key, body: { ...entry, name: entry.name ?? key }, origin });
    }
    for (const [key, entry] of Object.entries(data.agents ?? {})) {
      const origin = source.origin(["agents", key]);
      const first = agents.get(key);
      if (first) duplicate(`agent "${key}"`, origin, first.origin);
      else agents.set(key, { key, body: { ...entry, name: entry.name ?? key }, origin });
    }
  }

  const scenarios: ScenarioSpec[] = [];
  for (const { source, data } of parsed) {
    (data.scenarios ?? []).forEach((entry, index) => {
      const origin = source.origin(["scenarios", index]);
      const first = scenarioOrigins.get(entry.name);
      if (first) {
        problems.push({
          file: origin.file,
          line: source.lineOf(["scenarios", index, "name"]),
          field: fieldPath(["scenarios", index, "name"]),
          message: `scenario "${entry.name}" is defined twice (first at ${first.file}:${first.line})`,
        });
      } else scenarioOrigins.set(entry.name, origin);
      const refer = (what: "persona" | "agent", keys: Map<string, unknown>): Reference | undefined => {
        const value = entry[what];
        if (keys.has(value)) return { key: value };
        if (UUID_RE.test(value)) return { id: value };
        const hint = closest(value, keys.keys());
        const known = [...keys.keys()];
        problems.push({
          file: source.display,
          line: source.lineOf(["scenarios", index, what]),
          field: fieldPath(["scenarios", index, what]),
          message: `unknown ${what} "${value}": ${
            hint
              ? `did you mean "${hint}"?`
              : known.length > 0
                ? `not a key of ${what}s (${known.join(", ")}) nor an id`
                : `the suite declares no ${what}s, and it is not an id`
          }`,
        });
        return undefined;
      };
      const persona = refer("persona", personas);
      const agent = refer("agent", agents);
      if (!persona || !agent || first) return;
      const { name, config, checks, inheritChecks, metadata } = entry;
      scenarios.push({
        name,
        persona,
        agent,
        repeat: entry.repeat ?? 1,
        ...(config !== undefined ? { config } : {}),
        ...(checks !== undefined ? { checks } : {}),
        ...(inheritChecks !== undefined ? { inheritChecks } : {}),
        ...(metadata !== undefined ? { metadata } : {}),
        origin,
      });
    });
  }
  if (problems.length === 0 && scenarios.length === 0) {
    problems.push({
      file: parsed.map((p) => p.source.display).join(", "),
      message: "no scenarios: add at least one under `scenarios:`",
    });
  }
  if (problems.length > 0) throw new SuiteError(sortProblems(problems));

  const first = parsed[0]!;
  const named = parsed.find((p) => typeof p.data.name === "string");
  return {
    name: named?.data.name ?? basename(first.source.display, extname(first.source.display)),
    files: parsed.map((p) => p.source.display),
    personas: [...personas.values()],
    agents: [...agents.values()],
    scenarios,
  };
}
