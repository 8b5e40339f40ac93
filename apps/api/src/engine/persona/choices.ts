// Options an agent offers (WhatsApp reply buttons and list rows): how they read in a transcript, and how the
// persona's answer maps back onto one. A channel renders its options with `renderOptions`; the persona reads them
// with `parseOptions` — as a customer reads the buttons on the screen — and taps one by answering its exact title.

export interface ChoiceOption {
  id: string;
  title: string;
  description?: string | undefined;
}

const PREFIX = "Options: ";

/** `Options: [Track my order] [Refund — within 30 days]`: the last line of an agent message that offers choices. */
export function renderOptions(options: readonly Pick<ChoiceOption, "title" | "description">[]): string {
  return (
    PREFIX +
    options
      .map((o) => `[${o.title.replace(/[[\]]/g, "")}${o.description ? ` — ${o.description}` : ""}]`)
      .join(" ")
  );
}

/** The options a rendered agent message offers (titles and descriptions), or none. */
export function parseOptions(content: string): { title: string; description?: string }[] {
  const line = content
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(PREFIX));
  if (!line) return [];
  return [...line.slice(PREFIX.length).matchAll(/\[([^\]\n]+)\]/g)].map((m) => {
    const [title = "", description] = m[1]!.split(" — ", 2);
    return description ? { title: title.trim(), description: description.trim() } : { title: title.trim() };
  });
}

const plain = (text: string) =>
  text
    .toLowerCase()
    .replace(/[‘’"“”'`.,!?:;()[\]]/g, "")
    .replace(/\s+/g, " ")
    .trim();

/** The option a persona's message taps: its whole message is the option's title (quotes and punctuation aside). */
export function matchOption<T extends Pick<ChoiceOption, "title">>(
  content: string,
  options: readonly T[],
): T | undefined {
  const said = plain(content);
  return said ? options.find((o) => plain(o.title) === said) : undefined;
}
