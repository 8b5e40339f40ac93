import { hash, verify } from "@node-rs/argon2";

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
