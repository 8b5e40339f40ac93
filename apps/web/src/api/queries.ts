// The query cache and the queries more than one page shares. A 401 from any call (the token expired or was
// revoked) signs the user out, which sends them back to the sign-in page.
import type { Agent, Persona } from "@mimic/sdk";
import { AuthenticationError, ConnectionError, RateLimitError } from "@mimic/sdk";
import { MutationCache, QueryCache, QueryClient, useQuery } from "@tanstack/react-query";
import { auth, client, signOut } from "./client";

function onApiError(error: unknown): void {
  if (error instanceof AuthenticationError && auth.get().token) signOut("expired");
}

export const queryClient = new QueryClient({
  queryCache: new QueryCache({ onError: onApiError }),
  mutationCache: new MutationCache({ onError: onApiError }),
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // The SDK already retries GETs on 429, 5xx and network errors; 4xx answers will not change.
      retry: (count, error) =>
        count < 1 && (error instanceof ConnectionError || error instanceof RateLimitError),
      refetchOnWindowFocus: false,
    },
  },
});

/** Every persona of the user (for selects and names), fetched page by page. */
export function useAllPersonas() {
  return useQuery({
    queryKey: ["personas", "all"],
    queryFn: async () => {
      const all: Persona[] = [];
      for await (const persona of client.personas.list({ limit: 100 })) all.push(persona);
      return all;
    },
  });
}

/** Every agent of the user (for selects and names), fetched page by page. */
export function useAllAgents() {
  return useQuery({
    queryKey: ["agents", "all"],
    queryFn: async () => {
      const all: Agent[] = [];
      for await (const agent of client.agents.list({ limit: 100 })) all.push(agent);
      return all;
    },
  });
}

/** id → name, for showing sessions; a deleted persona or agent shows as such. */
export function useNames() {
  const personas = useAllPersonas();
  const agents = useAllAgents();
  const personaNames = new Map((personas.data ?? []).map((p) => [p.id, p.name]));
  const agentNames = new Map((agents.data ?? []).map((a) => [a.id, a.name]));
  return {
    persona: (id: string) => personaNames.get(id) ?? (personas.data ? "Deleted persona" : "…"),
    agent: (id: string) => agentNames.get(id) ?? (agents.data ? "Deleted agent" : "…"),
  };
}

export function useMe() {
  return useQuery({ queryKey: ["me"], queryFn: () => client.auth.me(), staleTime: 5 * 60_000 });
}
