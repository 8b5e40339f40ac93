// @mimic/cli as a library: the command (main) and the suite reader, for tools that wrap the CLI.
export { type MainOptions, main, VERSION } from "./main.js";
export type { Report, ScenarioReport } from "./report.js";
export type { Outcome, RunResult } from "./runner.js";
export { buildSuiteSchema, renderSuiteSchema } from "./schema-gen.js";
export {
  type AgentSpec,
  formatProblem,
  type LoadOptions,
  loadSuite,
  type PersonaSpec,
  type Problem,
  type ScenarioSpec,
  type Suite,
  SuiteError,
} from "./suite.js";
