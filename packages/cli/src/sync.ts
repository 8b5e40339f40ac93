// Makes the server hold the suite's personas and agents, idempotently: each is found by its exact name (the key,
// unless the suite gives a `name`) among the user's own, then updated to what the suite says, or created. A
// re-run therefore changes the resource in place instead of adding a copy. Fields the suite leaves out are reset
// (a removed `goal` is removed on the server too), so the suite stays the one description of the resource.
import {
  type Agent,
  type CreatePersonaRequest,
  type MimicClient,
  MimicError,
  NotFoundError,
  type Persona,
  type UpdatePersonaRequest,
  ValidationError,
} from "@mimic/sdk";
import { ExitError } from "./connect.js";
import type { Origin, Reference, Suite } from "./suite.js";

/** What a persona field left out of the suite goes back to on update: the API's own defaults. */
const PERSONA_RESET = {
  description: null,
  goal: null,
  model: null,
  seed: null,
  temperature: null,
  script: [],
  traits: {},
  checks: [],
  config: {},
} satisfies UpdatePersonaRequest;

export interface Resolved {
  /** Suite key → server id. */
  personas: Map<string, Persona>;
  agents: Map<string, Agent>;
  created: number;
  updated: number;
  warnings: string[];
}

const where = (origin: Origin) => `${origin.file}:${origin.line}: ${origin.field}`;

/** A 422 from the server about a suite entry, as an "invalid suite" exit naming where the entry is. */
function refused(error: unknown, origin: Origin, what: string): unknown {
  if (!(error instanceof ValidationError)) return error;
  const details = error.details.map((d) => `${d.field}: ${d.message}`).join("; ");
  return new ExitError(`${where(origin)}: the server refused the ${what}: ${details || error.message}`, 2);
}

async function byName<T extends { id: string; name: string }>(
  list: () => AsyncIterable<T>,
): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>();
  for await (const item of list()) out.set(item.name, [...(out.get(item.name) ?? []), item]);
  return out;
}

export async function syncSuite(client: MimicClient, suite: Suite): Promise<Resolved> {
  const resolved: Resolved = {
    personas: new Map(),
    agents: new Map(),
    created: 0,
    updated: 0,
    warnings: [],
  };
  // Newest first (the API's order): with duplicates made by hand or by concurrent first runs, the newest wins.
  const [personas, agents] = await Promise.all([
    suite.personas.length > 0 ? byName(() => client.personas.list({ limit: 100 })) : new Map(),
    suite.agents.length > 0 ? byName(() => client.agents.list({ limit: 100 })) : new Map(),
  ]);

  for (const spec of suite.personas) {
    const found: Persona[] = personas.get(spec.body.name) ?? [];
    if (found.length > 1) {
      resolved.warnings.push(
        `${found.length} personas are named "${spec.body.name}": updating the newest (${found[0]!.id})`,
      );
    }
    try {
      let persona: Persona;
      if (found[0]) {
        const body: UpdatePersonaRequest = { ...PERSONA_RESET, ...spec.body };
        persona = await client.personas.update(found[0].id, body);
        resolved.updated++;
      } else {
        persona = await client.personas.create(spec.body satisfies CreatePersonaRequest);
        resolved.created++;
      }
      resolved.personas.set(spec.key, persona);
    } catch (error) {
      throw refused(error, spec.origin, `persona "${spec.key}"`);
    }
  }

  for (const spec of suite.agents) {
    const found: Agent[] = agents.get(spec.body.name) ?? [];
    if (found.length > 1) {
      resolved.warnings.push(
        `${found.length} agents are named "${spec.body.name}": updating the newest (${found[0]!.id})`,
      );
    }
    try {
      let agent: Agent;
      if (found[0]) {
        // A new config replaces the old one whole; the status goes back to active unless the suite says otherwise.
        agent = await client.agents.update(found[0].id, { status: "active", ...spec.body });
        resolved.updated++;
      } else {
        agent = await client.agents.create(spec.body);
        resolved.created++;
      }
      resolved.agents.set(spec.key, agent);
    } catch (error) {
      throw refused(error, spec.origin, `agent "${spec.key}"`);
    }
  }
  return resolved;
}

/** The server id of a scenario's persona or agent; an id given in the suite must exist and be the user's. */
export async function resolveReference(
  client: MimicClient,
  reference: Reference,
  kind: "persona" | "agent",
  resolved: Resolved,
  origin: Origin,
): Promise<string> {
  if ("key" in reference) {
    const found =
      kind === "persona" ? resolved.personas.get(reference.key) : resolved.agents.get(reference.key);
    return found!.id;
  }
  try {
    const found =
      kind === "persona" ? await client.personas.get(reference.id) : await client.agents.get(reference.id);
    return found.id;
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new ExitError(`${where(origin)}: no ${kind} with id ${reference.id} on the server`, 2);
    }
    if (error instanceof MimicError) throw error;
    throw error;
  }
}
