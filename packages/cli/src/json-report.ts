// The JSON report (--json): everything a machine may want, including each run's transcript — in embedded mode the
// server, and with it the sessions, is gone once the command ends.
import type { Report } from "./report.js";

export const JSON_REPORT_VERSION = 1;

export function renderJson(report: Report): string {
  const document = {
    version: JSON_REPORT_VERSION,
    ...report,
    scenarios: report.scenarios.map(({ runs, ...scenario }) => ({
      ...scenario,
      runs: runs.map(({ messages, latencies, scenario: _name, ...run }) => ({
        ...run,
        latencies,
        messageCount: messages.length,
        transcript: messages.map((m) => ({
          senderType: m.senderType,
          content: m.content,
          timestamp: m.timestamp,
          latencyMs: m.latencyMs,
        })),
      })),
    })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
