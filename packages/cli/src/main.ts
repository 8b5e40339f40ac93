// `mimic run | validate | init`: parses the command line, runs the command and returns the exit code —
// 0 every scenario passed, 1 a scenario failed, 2 invalid suite or options, 3 server unreachable or credentials
// refused. bin.ts calls it with the process's streams; tests call it in process with their own.
import { mkdir, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type Connection, connect, ExitError, serverExit } from "./connect.js";
import { renderJson } from "./json-report.js";
import { renderJUnit } from "./junit.js";
import { renderMarkdown } from "./markdown.js";
import { colorsFor, interactive, type Out, Progress, renderSummary, renderTable } from "./output.js";
import { type Report, scenarioReport, totalsOf } from "./report.js";
import { type PlannedScenario, runScenarios } from "./runner.js";
import { formatProblem, loadSuite, type Suite, SuiteError } from "./suite.js";
import { resolveReference, syncSuite } from "./sync.js";
import { GITHUB_WORKFLOW, STARTER_SUITE } from "./templates.js";

export interface MainOptions {
  /** Where relative paths start (default: $MIMIC_CWD, else process.cwd()). */
  cwd?: string;
  env?: Record<string, string | undefined>;
  stdout?: Out;
  stderr?: Out;
  /** Aborting it stops the sessions in flight and ends the command (exit 130). */
  signal?: AbortSignal;
}

export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string })
  .version;

const DEFAULT_FILE = "mimic.yaml";
const WORKFLOW_FILE = ".github/workflows/mimic.yml";

const HELP = `mimic — test conversational agents with simulated customers (Mimic ${VERSION})

Usage:
  mimic run [files…]        Run a suite (default ${DEFAULT_FILE}) and report; the exit code says how it went
  mimic validate [files…]   Check suites without running them
  mimic init                Write a starter ${DEFAULT_FILE} (and a CI workflow with --ci github)

Global options:
  --base-url URL   A Mimic server (or MIMIC_BASE_URL), used with the API key in MIMIC_API_KEY.
                   With neither, \`run\` starts a throwaway Mimic in process (embedded mode).
  -h, --help       Help (also \`mimic <command> --help\`)
  -V, --version    The version

Exit codes: 0 all scenarios passed · 1 a scenario failed · 2 invalid suite or options ·
            3 server unreachable or credentials refused

Docs: https://github.com/mimic-dev/mimic/tree/main/packages/cli#readme
`;

const RUN_HELP = `Usage: mimic run [files…] [options]

Runs every scenario of the suite (default ${DEFAULT_FILE}; several files are merged) × its \`repeat\`, waits for
every verdict, prints a table and writes the reports asked for.

Options:
  -c, --concurrency N     Sessions at once (default 4)
  --min-pass-rate R       Share of passing runs a scenario needs, 0 to 1 (default 1)
  --scenario NAME         Run only this scenario (repeatable)
  --junit FILE            Write a JUnit XML report (GitHub Actions, GitLab, Jenkins)
  --json FILE             Write the full JSON report (runs, verdicts, latencies, transcripts)
  --markdown FILE         Write a Markdown summary (pull-request comment, $GITHUB_STEP_SUMMARY)
  -v, --verbose           Stream the conversations as they happen
  --base-url URL          A Mimic server (or MIMIC_BASE_URL) with MIMIC_API_KEY; without: embedded mode
  -h, --help              This help

Exit codes: 0 all scenarios passed · 1 a scenario failed · 2 invalid suite or options ·
            3 server unreachable or credentials refused
`;

const VALIDATE_HELP = `Usage: mimic validate [files…]

Checks suites (default ${DEFAULT_FILE}) without running them: syntax, the schema (mimic.schema.json), \${VAR}
references, duplicate keys and names, and that every scenario names a persona and an agent.
Exit code 0 when valid, 2 otherwise (each problem as file:line: field: message).
`;

const INIT_HELP = `Usage: mimic init [options]

Writes a commented starter ${DEFAULT_FILE} in the current directory.

Options:
  --ci github     Also write a GitHub Actions workflow (${WORKFLOW_FILE})
  -f, --force     Overwrite existing files
  -h, --help      This help
`;

class UsageError extends Error {}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000)
    throw new UsageError(`${name} must be an integer from 1 to 1000`);
  return n;
}

function rate(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new UsageError(`--min-pass-rate must be a number from 0 to 1 (e.g. 0.8), got "${value}"`);
  }
  return n;
}

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? (env.MIMIC_CWD || process.cwd());
  const stdout: Out = options.stdout ?? process.stdout;
  const stderr: Out = options.stderr ?? process.stderr;
  const colors = colorsFor(stderr, env);
  const fail = (message: string, code: number) => {
    stderr.write(`${colors.red("error:")} ${message}\n`);
    return code;
  };

  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "help":
        if (rest[0] === "run") stdout.write(RUN_HELP);
        else if (rest[0] === "validate") stdout.write(VALIDATE_HELP);
        else if (rest[0] === "init") stdout.write(INIT_HELP);
        else stdout.write(HELP);
        return command === undefined ? 2 : 0;
      case "-h":
      case "--help":
        stdout.write(HELP);
        return 0;
      case "-V":
      case "--version":
        stdout.write(`${VERSION}\n`);
        return 0;
      case "run":
        return await runCommand(rest, { env, cwd, stdout, stderr, signal: options.signal });
      case "validate":
        return await validateCommand(rest, { env, cwd, stdout, stderr });
      case "init":
        return await initCommand(rest, { env, cwd, stdout, stderr });
      default:
        return fail(`unknown command "${command}" (run, validate or init; see mimic --help)`, 2);
    }
  } catch (error) {
    if (error instanceof UsageError) return fail(`${error.message} (see mimic ${command} --help)`, 2);
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      return fail(`${(error as Error).message} (see mimic ${command} --help)`, 2);
    }
    if (error instanceof SuiteError) {
      for (const problem of error.problems) stderr.write(`${formatProblem(problem)}\n`);
      stderr.write(
        colors.red(
          `✗ ${error.problems.length} problem${error.problems.length === 1 ? "" : "s"} in the suite\n`,
        ),
      );
      return 2;
    }
    if (error instanceof ExitError) return fail(error.message, error.code);
    throw error;
  }
}

interface Context {
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: Out;
  stderr: Out;
  signal?: AbortSignal | undefined;
}

async function validateCommand(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    ctx.stdout.write(VALIDATE_HELP);
    return 0;
  }
  const files = positionals.length > 0 ? positionals : [DEFAULT_FILE];
  const suite = await loadSuite(files, { cwd: ctx.cwd, env: ctx.env });
  const runs = suite.scenarios.reduce((n, s) => n + s.repeat, 0);
  const colors = colorsFor(ctx.stdout, ctx.env);
  ctx.stdout.write(
    `${colors.green("✓")} ${suite.files.join(", ")}: valid — ${suite.personas.length} persona${suite.personas.length === 1 ? "" : "s"}, ${suite.agents.length} agent${suite.agents.length === 1 ? "" : "s"}, ${suite.scenarios.length} scenario${suite.scenarios.length === 1 ? "" : "s"} (${runs} run${runs === 1 ? "" : "s"})\n`,
  );
  return 0;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function initCommand(args: string[], ctx: Context): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ci: { type: "string" },
      force: { type: "boolean", short: "f" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    ctx.stdout.write(INIT_HELP);
    return 0;
  }
  if (values.ci !== undefined && values.ci !== "github") {
    throw new UsageError(`--ci takes "github" (got "${values.ci}"); see the README for GitLab and Jenkins`);
  }
  const files: [string, string][] = [[DEFAULT_FILE, STARTER_SUITE]];
  if (values.ci === "github") files.push([WORKFLOW_FILE, GITHUB_WORKFLOW]);
  if (!values.force) {
    const taken = [];
    for (const [name] of files) if (await exists(resolve(ctx.cwd, name))) taken.push(name);
    if (taken.length > 0) {
      throw new ExitError(
        `${taken.join(" and ")} already exist${taken.length === 1 ? "s" : ""}: use --force to overwrite`,
        2,
      );
    }
  }
  for (const [name, content] of files) {
    const path = resolve(ctx.cwd, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    ctx.stdout.write(`wrote ${name}\n`);
  }
  ctx.stdout.write(
    `\nNext:\n  1. Point agents.my-bot at your bot (or set BOT_URL) and describe your customers in ${DEFAULT_FILE}.\n  2. npx @mimic/cli validate\n  3. BOT_URL=http://localhost:3000/webhook npx @mimic/cli run --junit mimic-junit.xml\n`,
  );
  if (values.ci === "github") {
    ctx.stdout.write(`  4. Adapt the "Start the bot" step of ${WORKFLOW_FILE}, then commit both files.\n`);
  }
  return 0;
}

async function runCommand(args: string[], ctx: Context): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      concurrency: { type: "string", short: "c" },
      "min-pass-rate": { type: "string" },
      scenario: { type: "string", multiple: true },
      junit: { type: "string" },
      json: { type: "string" },
      markdown: { type: "string" },
      verbose: { type: "boolean", short: "v" },
      "base-url": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    ctx.stdout.write(RUN_HELP);
    return 0;
  }
  const concurrency = positiveInteger("--concurrency", values.concurrency, 4);
  const minPassRate = rate(values["min-pass-rate"]);
  const files = positionals.length > 0 ? positionals : [DEFAULT_FILE];
  let suite = await loadSuite(files, { cwd: ctx.cwd, env: ctx.env });
  if (values.scenario) suite = onlyScenarios(suite, values.scenario);

  const { stdout, env } = ctx;
  const colors = colorsFor(stdout, env);
  const info = (line: string) => stdout.write(`${colors.dim(line)}\n`);
  const runs = suite.scenarios.reduce((n, s) => n + s.repeat, 0);
  info(
    `Suite "${suite.name}" (${suite.files.join(", ")}): ${suite.scenarios.length} scenario${suite.scenarios.length === 1 ? "" : "s"}, ${runs} run${runs === 1 ? "" : "s"}, ${Math.min(concurrency, runs)} at a time`,
  );

  const baseUrl = values["base-url"] ?? (env.MIMIC_BASE_URL || undefined);
  const connection = await connect({
    baseUrl,
    apiKey: env.MIMIC_API_KEY || undefined,
    logLevel: values.verbose ? "warn" : "silent",
    info,
  });
  const startedAt = new Date();
  try {
    const planned = await prepare(connection, suite, info);
    const progress = new Progress(stdout, colors, suite.scenarios, {
      interactive: interactive(stdout, env),
      verbose: values.verbose ?? false,
    });
    let results: Awaited<ReturnType<typeof runScenarios>>;
    try {
      results = await runScenarios(
        {
          client: connection.client,
          suiteName: suite.name,
          concurrency,
          listener: progress,
          live: values.verbose ?? false,
          signal: ctx.signal,
        },
        planned,
      );
    } finally {
      progress.stop();
    }
    if (ctx.signal?.aborted) {
      ctx.stderr.write("interrupted: the sessions in flight were stopped\n");
      return 130;
    }
    const finishedAt = new Date();
    const scenarios = planned.map((p, i) => scenarioReport(p.spec, p, results[i]!, minPassRate));
    const totals = totalsOf(scenarios);
    const report: Report = {
      tool: { name: "@mimic/cli", version: VERSION },
      suite: { name: suite.name, files: suite.files },
      options: { concurrency, minPassRate, ...(values.scenario ? { scenarios: values.scenario } : {}) },
      server: { mode: connection.mode, baseUrl: connection.mode === "server" ? connection.baseUrl : null },
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      duration: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      passed: scenarios.every((s) => s.passed),
      totals,
      scenarios,
    };
    stdout.write(`\n${renderTable(report, colors, stdout.columns)}`);
    stdout.write(renderSummary(report, colors));

    const outputs: [string | undefined, string, () => string][] = [
      [values.junit, "JUnit report", () => renderJUnit(report)],
      [values.json, "JSON report", () => renderJson(report)],
      [values.markdown, "Markdown summary", () => renderMarkdown(report)],
    ];
    for (const [file, what, render] of outputs) {
      if (!file) continue;
      const path = resolve(ctx.cwd, file);
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, render());
      } catch (error) {
        throw new ExitError(`cannot write the ${what} to ${file}: ${(error as Error).message}`, 2);
      }
      info(`${what}: ${displayPath(ctx.cwd, path)}`);
    }

    // Runs that could not even talk to the server say more about the server than about the bot.
    const lost = scenarios
      .flatMap((s) => s.runs)
      .find((r) => r.errorKind === "auth" || r.errorKind === "connection");
    if (lost) {
      ctx.stderr.write(
        `${colors.red("error:")} ${lost.errorKind === "auth" ? "the server refused the credentials" : "lost the connection to the server"} during the run: ${lost.error}\n`,
      );
      return 3;
    }
    return report.passed ? 0 : 1;
  } catch (error) {
    throw serverExit(error, connection.baseUrl) ?? error;
  } finally {
    await connection.close();
  }
}

/** Relative to the working directory when inside it, else absolute. */
function displayPath(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") ? rel : path;
}

function onlyScenarios(suite: Suite, names: string[]): Suite {
  const known = new Set(suite.scenarios.map((s) => s.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `--scenario: no scenario named ${unknown.map((n) => `"${n}"`).join(", ")} (the suite has: ${[...known].map((n) => `"${n}"`).join(", ")})`,
    );
  }
  return { ...suite, scenarios: suite.scenarios.filter((s) => names.includes(s.name)) };
}

async function prepare(connection: Connection, suite: Suite, info: (line: string) => void) {
  const { client } = connection;
  // Only what the selected scenarios use is synced.
  const used = (kind: "persona" | "agent") =>
    new Set(suite.scenarios.flatMap((s) => ("key" in s[kind] ? [(s[kind] as { key: string }).key] : [])));
  const personaKeys = used("persona");
  const agentKeys = used("agent");
  const resolved = await syncSuite(client, {
    ...suite,
    personas: suite.personas.filter((p) => personaKeys.has(p.key)),
    agents: suite.agents.filter((a) => agentKeys.has(a.key)),
  });
  for (const warning of resolved.warnings) info(`warning: ${warning}`);
  if (resolved.created + resolved.updated > 0) {
    info(
      `Synced ${personaKeys.size} persona${personaKeys.size === 1 ? "" : "s"} and ${agentKeys.size} agent${agentKeys.size === 1 ? "" : "s"}: ${resolved.created} created, ${resolved.updated} updated`,
    );
  }
  const planned: PlannedScenario[] = [];
  for (const spec of suite.scenarios) {
    planned.push({
      spec,
      personaId: await resolveReference(client, spec.persona, "persona", resolved, spec.origin),
      agentId: await resolveReference(client, spec.agent, "agent", resolved, spec.origin),
    });
  }
  return planned;
}
