// What `mimic init` writes: a commented starter suite and, with --ci github, a GitHub Actions workflow (the
// repository's examples/github-actions.yml is this same workflow; a test keeps them equal).
import { SCHEMA_ID } from "./schema-gen.js";

export const STARTER_SUITE = `# yaml-language-server: $schema=${SCHEMA_ID}
#
# A Mimic suite: simulated customers (personas) talk to your bot (agents), and every conversation is judged.
# Run it with:   npx @mimic/cli run            (add --junit mimic-junit.xml in CI)
# Check it with: npx @mimic/cli validate
#
# \${VAR} takes an environment variable (an unset one is an error), \${VAR:-default} falls back to a default,
# and $\${VAR} is a literal \${VAR}.

# The bots under test, by key. Every field of the API's agents is accepted; \`name\` defaults to the key, and
# the agent is found again by that name on later runs (updated, not duplicated).
agents:
  my-bot:
    type: webhook # Mimic POSTs {"content": "…", "sessionId": …} and expects {"reply": "…"}
    config:
      webhook_url: \${BOT_URL:-http://localhost:3000/webhook}
      # secret: \${BOT_SECRET}   # signs each request (Mimic-Signature header)

# The simulated customers, by key. \`goal\` is what they want: they say thanks and leave once the bot gives it.
personas:
  late-parcel:
    prompt: You ordered headphones ten days ago and the parcel is late.
    goal: get a new delivery date
    # traits: { patience_level: low }

# What to run. Each scenario plays \`repeat\` sessions and passes when enough of them pass (--min-pass-rate).
scenarios:
  - name: late parcel gets a new date
    persona: late-parcel # a key above, or the id of a persona on the server
    agent: my-bot
    repeat: 3
    config:
      maxMessages: 10 # persona + agent messages
      messageInterval: 1 # seconds between the customer's messages
      replyTimeout: 10 # seconds to wait for each answer
      duration: 120 # seconds at most
    checks:
      - { type: reply_within, ms: 2000 }
      - { type: must_match, pattern: "delivery date" }
      # - { type: must_not_match, pattern: "\\\\m(damn|stupid)\\\\M" }
      # - { type: goal_reached }
      # - { type: llm_judge, rubric: "The bot is polite and gives a concrete date." }
`;

export const GITHUB_WORKFLOW = `# Runs the Mimic suite (mimic.yaml) against the bot on every push and pull request, and publishes the result.
# Written by \`npx @mimic/cli init --ci github\`; adapt "Start the bot" to your project.
name: Mimic

on:
  push:
    branches: [main]
  pull_request:

permissions:
  contents: read
  checks: write # the JUnit report becomes a check run

jobs:
  conversations:
    runs-on: ubuntu-latest
    timeout-minutes: 20
    steps:
      - uses: actions/checkout@v4

      - uses: actions/setup-node@v4
        with:
          node-version: 20

      - name: Start the bot
        run: |
          npm ci
          npm start > bot.log 2>&1 &
          # Wait until it answers (up to 60 s).
          for i in $(seq 60); do curl -s -o /dev/null http://localhost:3000/ && break; sleep 1; done

      - name: Run the Mimic suite
        # Without MIMIC_BASE_URL, Mimic runs embedded in this job: nothing else to set up. To record the runs on
        # a shared Mimic server instead, set MIMIC_BASE_URL and a MIMIC_API_KEY secret.
        run: npx --yes @mimic/cli run --junit mimic-junit.xml --json mimic-report.json --markdown mimic-summary.md
        env:
          BOT_URL: http://localhost:3000/webhook
          # MIMIC_BASE_URL: \${{ vars.MIMIC_BASE_URL }}
          # MIMIC_API_KEY: \${{ secrets.MIMIC_API_KEY }}

      - name: Summary
        if: \${{ !cancelled() }}
        run: test -f mimic-summary.md && cat mimic-summary.md >> "$GITHUB_STEP_SUMMARY" || true

      - name: Publish the JUnit report
        if: \${{ !cancelled() }}
        uses: mikepenz/action-junit-report@v5
        with:
          report_paths: mimic-junit.xml
          check_name: Mimic conversations

      - name: Keep the reports and the bot's log
        if: \${{ !cancelled() }}
        uses: actions/upload-artifact@v4
        with:
          name: mimic-reports
          path: |
            mimic-junit.xml
            mimic-report.json
            mimic-summary.md
            bot.log
`;
