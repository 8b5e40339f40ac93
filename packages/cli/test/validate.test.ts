// Reading suites without running them: every problem names its file, line and field and exits 2; valid suites
// (including the repository's example) pass; `mimic init` writes a starter that validates.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { GITHUB_WORKFLOW } from "../src/templates.js";
import { folder, mimic } from "./helpers/cli.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));

const VALID = `agents:
  support-bot: { type: webhook, config: { webhook_url: "\${BOT_URL}", secret: "\${BOT_SECRET:-s3cret-value}" } }
personas:
  late-parcel:
    prompt: You ordered headphones ten days ago and the parcel is late.
    goal: get a new delivery date
scenarios:
  - name: late parcel gets a new date
    persona: late-parcel
    agent: support-bot
    repeat: 3
    config: { maxMessages: 10, messageInterval: 1 }
    checks: [ { type: reply_within, ms: 2000 } ]
`;

describe("mimic validate", () => {
  it("accepts a valid suite and says what it holds (exit 0)", async () => {
    const cwd = await folder({ "mimic.yaml": VALID });
    const { code, stdout, stderr } = await mimic(["validate"], cwd, {
      BOT_URL: "http://localhost:3000/hook",
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("mimic.yaml: valid — 1 persona, 1 agent, 1 scenario (3 runs)");
  });

  it("accepts the same suite written as JSON", async () => {
    const json = {
      agents: { bot: { type: "webhook", config: { webhook_url: "http://localhost:3000/hook" } } },
      personas: { p: { prompt: "You want a refund." } },
      scenarios: [{ name: "refund", persona: "p", agent: "bot" }],
    };
    const cwd = await folder({ "suite.json": JSON.stringify(json, null, 2) });
    const { code, stderr } = await mimic(["validate", "suite.json"], cwd);
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it.each(["mimic.yaml", "voice.yaml"])("accepts the repository's example suite %s", async (file) => {
    const { code, stderr } = await mimic(["validate", file], EXAMPLES);
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("reports a value out of range with file, line and field (exit 2)", async () => {
    const cwd = await folder({ "mimic.yaml": VALID.replace("repeat: 3", "repeat: 50") });
    const { code, stderr } = await mimic(["validate"], cwd, { BOT_URL: "http://localhost:3000/hook" });
    expect(code).toBe(2);
    expect(stderr).toContain("mimic.yaml:11: scenarios[0].repeat: must be <= 20");
  });

  it("reports an unknown field with a suggestion, at the key's line", async () => {
    const cwd = await folder({ "mimic.yaml": VALID.replace("    prompt:", "    promt:") });
    const { code, stderr } = await mimic(["validate"], cwd, { BOT_URL: "http://localhost:3000/hook" });
    expect(code).toBe(2);
    expect(stderr).toContain(
      'mimic.yaml:5: personas.late-parcel.promt: unknown field (did you mean "prompt"?)',
    );
    expect(stderr).toContain("mimic.yaml:4: personas.late-parcel.prompt: is required");
  });

  it("reports a scenario naming a persona the suite does not declare", async () => {
    const cwd = await folder({ "mimic.yaml": VALID.replace("persona: late-parcel", "persona: late-parcle") });
    const { code, stderr } = await mimic(["validate"], cwd, { BOT_URL: "http://localhost:3000/hook" });
    expect(code).toBe(2);
    expect(stderr).toContain(
      'mimic.yaml:9: scenarios[0].persona: unknown persona "late-parcle": did you mean "late-parcel"?',
    );
  });

  it("reports an unset variable by name; $$-escapes are literal and :- gives a fallback", async () => {
    const cwd = await folder({ "mimic.yaml": VALID });
    const unset = await mimic(["validate"], cwd);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain(
      "mimic.yaml:2: agents.support-bot.config.webhook_url: environment variable BOT_URL is not set",
    );
    // BOT_SECRET has a default: no complaint about it.
    expect(unset.stderr).not.toContain("BOT_SECRET");

    const escaped = await folder({
      // (a function: a replacement string would read "$$" as "$")
      "mimic.yaml": VALID.replace(
        "goal: get a new delivery date",
        () => `goal: "say $\${PRICE} out loud"\n    description: \${MISSING_TOO}`,
      ),
    });
    const both = await mimic(["validate"], escaped, { BOT_URL: "http://localhost:3000/hook" });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(
      "mimic.yaml:7: personas.late-parcel.description: environment variable MISSING_TOO",
    );
    expect(both.stderr).not.toContain("PRICE");
  });

  it("reports type errors of alternatives, unknown check types and per-type agent configs", async () => {
    const suite = VALID.replace("goal: get a new delivery date", "goal: 12")
      .replace("{ type: reply_within, ms: 2000 }", "{ type: reply_within, ms: 2000 }, { type: must_rhyme }")
      .replace(`secret: "\${BOT_SECRET:-s3cret-value}"`, "secrett: x");
    const cwd = await folder({ "mimic.yaml": suite });
    const { code, stderr } = await mimic(["validate"], cwd, { BOT_URL: "http://localhost:3000/hook" });
    expect(code).toBe(2);
    expect(stderr).toContain(
      'mimic.yaml:2: agents.support-bot.config.secrett: unknown field (did you mean "secret"?)',
    );
    expect(stderr).toContain("mimic.yaml:6: personas.late-parcel.goal: must be string or null");
    expect(stderr).toMatch(
      /mimic\.yaml:13: scenarios\[0\]\.checks\[1\]\.type: unknown type "must_rhyme": must be "reply_within", .*"llm_judge"/,
    );
  });

  it("reports a YAML syntax error with its line", async () => {
    const cwd = await folder({ "mimic.yaml": "personas:\n  p: { prompt: hi\nscenarios: []\n" });
    const { code, stderr } = await mimic(["validate"], cwd);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^mimic\.yaml:\d+: YAML syntax error: /m);
  });

  it("merges several files and names both when a key is defined twice", async () => {
    const cwd = await folder({
      "agents.yaml": 'agents:\n  bot: { type: webhook, config: { webhook_url: "http://localhost:1/h" } }\n',
      "more.yaml":
        'agents:\n  other: { type: webhook, config: { webhook_url: "http://localhost:2/h" } }\n  bot: { type: webhook, config: { webhook_url: "http://localhost:3/h" } }\n',
      "scenarios.yaml":
        "personas:\n  p: { prompt: You want a refund. }\nscenarios:\n  - { name: one, persona: p, agent: bot }\n  - { name: two, persona: p, agent: other }\n",
    });
    const merged = await mimic(["validate", "agents.yaml", "scenarios.yaml"], cwd);
    expect(merged.stderr).toContain('unknown agent "other"');
    const ok = await mimic(["validate", "agents.yaml", "scenarios.yaml", "more.yaml"], cwd);
    expect(ok.code).toBe(2);
    expect(ok.stderr).toContain(
      'more.yaml:3: agents.bot: agent "bot" is defined twice (first at agents.yaml:2)',
    );
  });

  it("fails on a missing file (exit 2)", async () => {
    const cwd = await folder();
    const { code, stderr } = await mimic(["validate"], cwd);
    expect(code).toBe(2);
    expect(stderr).toContain("mimic.yaml: no such file");
  });
});

describe("mimic run, before anything runs", () => {
  it("rejects bad options with exit 2", async () => {
    const cwd = await folder({ "mimic.yaml": VALID });
    const env = { BOT_URL: "http://localhost:3000/hook" };
    expect((await mimic(["run", "--concurrency", "0"], cwd, env)).code).toBe(2);
    expect((await mimic(["run", "--min-pass-rate", "1.5"], cwd, env)).stderr).toContain("--min-pass-rate");
    expect((await mimic(["run", "--frobnicate"], cwd, env)).code).toBe(2);
    expect((await mimic(["run", "--scenario", "nope"], cwd, env)).stderr).toContain(
      'no scenario named "nope"',
    );
    expect((await mimic(["frob"], cwd)).code).toBe(2);
  });

  it("rejects an invalid suite with exit 2 before starting any server", async () => {
    const cwd = await folder({ "mimic.yaml": VALID.replace("repeat: 3", "repeat: 50") });
    const { code, stdout, stderr } = await mimic(["run"], cwd, { BOT_URL: "http://localhost:3000/hook" });
    expect(code).toBe(2);
    expect(stderr).toContain("mimic.yaml:11: scenarios[0].repeat: must be <= 20");
    expect(stdout).not.toContain("embedded");
  });

  it("needs an API key with --base-url (exit 2)", async () => {
    const cwd = await folder({ "mimic.yaml": VALID });
    const { code, stderr } = await mimic(["run", "--base-url", "http://127.0.0.1:9"], cwd, {
      BOT_URL: "http://localhost:3000/hook",
    });
    expect(code).toBe(2);
    expect(stderr).toContain("MIMIC_API_KEY is not set");
  });
});

describe("mimic init", () => {
  it("writes a starter suite that validates, and refuses to overwrite it without --force", async () => {
    const cwd = await folder();
    const first = await mimic(["init"], cwd);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("wrote mimic.yaml");
    expect(first.stdout).toContain("npx @mimic/cli run");
    const starter = await readFile(join(cwd, "mimic.yaml"), "utf8");
    expect(starter).toMatch(
      /^# yaml-language-server: \$schema=https:\/\/unpkg\.com\/@mimic\/cli\/mimic\.schema\.json/,
    );
    expect((await mimic(["validate"], cwd)).code).toBe(0);

    const again = await mimic(["init"], cwd);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists: use --force");
    expect((await mimic(["init", "--force"], cwd)).code).toBe(0);
  });

  it("writes the GitHub Actions workflow with --ci github, the same as examples/github-actions.yml", async () => {
    const cwd = await folder();
    const { code } = await mimic(["init", "--ci", "github"], cwd);
    expect(code).toBe(0);
    const workflow = await readFile(join(cwd, ".github/workflows/mimic.yml"), "utf8");
    expect(workflow).toBe(GITHUB_WORKFLOW);
    expect(await readFile(join(EXAMPLES, "github-actions.yml"), "utf8")).toBe(GITHUB_WORKFLOW);
    expect(workflow).toContain("npx --yes @mimic/cli run --junit mimic-junit.xml");
    expect(workflow).toContain("node-version: 20");
  });
});

describe("mimic --help / --version", () => {
  it("prints help and the version", async () => {
    const cwd = await folder();
    const help = await mimic(["--help"], cwd);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("mimic run [files…]");
    expect((await mimic(["run", "--help"], cwd)).stdout).toContain("--min-pass-rate");
    expect((await mimic(["--version"], cwd)).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});
