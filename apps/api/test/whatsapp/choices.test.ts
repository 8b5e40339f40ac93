// Options on the screen: how they read in a transcript, and which one each persona taps.
import { describe, expect, it } from "vitest";
import { matchOption, parseOptions, renderOptions } from "../../src/engine/persona/choices.js";
import { systemPrompt } from "../../src/engine/persona/openai.js";
import { scriptedPersona } from "../../src/engine/persona/scripted.js";
import type { PersonaProfile, TranscriptLine } from "../../src/engine/persona/types.js";

const persona: PersonaProfile = {
  id: "3b0c7c7e-1111-4c59-9a59-2d1f0f3e9b11",
  name: "Late parcel",
  description: null,
  prompt: "You are a customer whose parcel is late. You want to know when it arrives.",
  traits: {},
  goal: "get a new delivery date",
  script: [],
  model: null,
  temperature: null,
  seed: 7,
};

const menu = (options: string[]) => `How can I help?\n${renderOptions(options.map((title) => ({ title })))}`;

const next = (transcript: TranscriptLine[], over: Partial<PersonaProfile> = {}) =>
  scriptedPersona.next({
    sessionId: "s1",
    persona: { ...persona, ...over },
    transcript,
    turn: transcript.filter((l) => l.senderType === "persona").length,
  });

describe("options in a transcript", () => {
  it("render as one line the persona parses back, descriptions included", () => {
    const line = renderOptions([{ title: "Morning", description: "8–12" }, { title: "Any [time]" }]);
    expect(line).toBe("Options: [Morning — 8–12] [Any time]");
    expect(parseOptions(`Pick a slot\n${line}`)).toEqual([
      { title: "Morning", description: "8–12" },
      { title: "Any time" },
    ]);
    expect(parseOptions("No options here")).toEqual([]);
  });

  it("match a reply that is an option's title, quotes, case and punctuation aside", () => {
    const options = [
      { id: "a", title: "New delivery date" },
      { id: "b", title: "Refund" },
    ];
    expect(matchOption('"new delivery date."', options)?.id).toBe("a");
    expect(matchOption("I want a refund", options)).toBeUndefined();
  });
});

describe("a scripted persona shown options", () => {
  it("taps the one that serves its goal", async () => {
    const t: TranscriptLine[] = [
      { senderType: "persona", content: "Hi. My parcel is late. I'd like to get a new delivery date." },
      { senderType: "agent", content: menu(["Refund", "New delivery date", "Talk to a human"]) },
    ];
    expect(await next(t)).toEqual({ content: "New delivery date", goalReached: false });
    // A refund-seeker taps Refund on the same menu.
    expect((await next(t, { goal: "get a refund" })).content).toBe("Refund");
  });

  it("types instead when no option serves its goal, or after tapping the same one twice", async () => {
    const unrelated: TranscriptLine[] = [
      { senderType: "persona", content: "Hi. My parcel is late." },
      { senderType: "agent", content: menu(["Opening hours", "Gift cards"]) },
    ];
    expect(parseOptions((await next(unrelated)).content)).toEqual([]);
    expect((await next(unrelated)).content).not.toMatch(/^(Opening hours|Gift cards)$/);
    const looping: TranscriptLine[] = [
      { senderType: "persona", content: "Hi." },
      { senderType: "agent", content: menu(["New delivery date"]) },
      { senderType: "persona", content: "New delivery date" },
      { senderType: "agent", content: menu(["New delivery date"]) },
      { senderType: "persona", content: "New delivery date" },
      { senderType: "agent", content: menu(["New delivery date"]) },
    ];
    expect((await next(looping)).content).not.toBe("New delivery date");
  });
});

describe("an LLM persona", () => {
  it("is told that an options line is buttons to tap by title", () => {
    expect(systemPrompt(persona)).toContain("Options: [First] [Second — detail]");
  });
});
