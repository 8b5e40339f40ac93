import { hash, verify } from "@node-rs/argon2";
import type { ZxcvbnFactory } from "@zxcvbn-ts/core";

// OWASP's argon2id floor: m = 19 MiB, t = 2, p = 1.
const ARGON2ID = 2; // Algorithm.Argon2id (a const enum, not importable under verbatimModuleSyntax)
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const hashPassword = (password: string) => hash(password, OPTIONS);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/** A hash to verify against when the email is unknown, so both failures take the same time. */
export const dummyHash = () => {
  dummy ??= hashPassword("mimic-dummy-password-for-timing");
  return dummy;
};

/** The password rule: at least PASSWORD_MIN_LENGTH characters, and not easy to guess (zxcvbn score ≥ 2). */
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_RULE = `At least ${PASSWORD_MIN_LENGTH} characters, and not a common or easily guessed password (a few unrelated words work well)`;

// Why zxcvbn judged a password weak, in words (its own messages are translation keys).
const WARNINGS: Record<string, string> = {
  topTen: "it is one of the ten most common passwords",
  topHundred: "it is one of the hundred most common passwords",
  common: "it is a commonly used password",
  similarToCommon: "it is too similar to a commonly used password",
  wordByItself: "a single word is easy to guess",
  namesByThemselves: "names on their own are easy to guess",
  commonNames: "common names are easy to guess",
  userInputs: "it contains your email address or name",
  straightRow: "a row of keys on the keyboard is easy to guess",
  keyPattern: "a short keyboard pattern is easy to guess",
  simpleRepeat: 'repeated characters like "aaa" are easy to guess',
  extendedRepeat: 'repeated patterns like "abcabc" are easy to guess',
  sequences: 'sequences like "abc" or "6543" are easy to guess',
  recentYears: "recent years are easy to guess",
  dates: "dates are easy to guess",
};

let zxcvbn: Promise<ZxcvbnFactory> | undefined;
/** The dictionaries weigh a few MB: loaded on the first registration, not at start-up. */
const estimator = () => {
  zxcvbn ??= Promise.all([import("@zxcvbn-ts/core"), import("@zxcvbn-ts/language-common")]).then(
    ([{ ZxcvbnFactory }, common]) =>
      new ZxcvbnFactory({
        dictionary: { ...common.dictionary },
        graphs: common.adjacencyGraphs,
        useLevenshteinDistance: true,
      }),
  );
  return zxcvbn;
};

/**
 * Why `password` is too weak for an account, or undefined when it is fine. Checked offline against zxcvbn's
 * common-password and pattern lists, and against the user's own email and name.
 */
export async function passwordProblem(
  password: string,
  userInputs: string[] = [],
): Promise<string | undefined> {
  if ([...password].length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  // The whole email, its local part and each word of it or of the name.
  const inputs = userInputs
    .flatMap((input) => [input, input.split("@")[0]!, ...input.split(/[^\p{L}\p{N}]+/u)])
    .filter((word) => word.length >= 3);
  const result = (await estimator()).check(password, inputs);
  if (result.score >= 2) return undefined;
  const why = (result.feedback.warning && WARNINGS[result.feedback.warning]) || "it is easy to guess";
  return `is too weak: ${why}. Use ${PASSWORD_MIN_LENGTH} or more characters that are hard to guess, such as a few unrelated words`;
}
