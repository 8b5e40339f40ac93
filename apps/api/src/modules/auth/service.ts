import { type Database, users } from "@mimic/db";
import { eq, sql } from "drizzle-orm";
import { AppError, validationError } from "../../errors.js";
import { dummyHash, hashPassword, passwordProblem, verifyPassword } from "../../lib/passwords.js";

const publicColumns = { id: users.id, email: users.email, name: users.name, createdAt: users.createdAt };

export async function registerUser(
  db: Database,
  input: { email: string; password: string; name?: string | undefined },
) {
  const email = input.email.trim().toLowerCase();
  // Judged before the email is looked at: a weak password is refused the same way for a taken address.
  const problem = await passwordProblem(input.password, [email, input.name ?? ""]);
  if (problem) throw validationError("password", problem);
  const passwordHash = await hashPassword(input.password);
  const [user] = await db
    .insert(users)
    .values({ email, passwordHash, name: input.name ?? null })
    .onConflictDoNothing()
    .returning(publicColumns);
  if (!user) throw new AppError("CONFLICT", "An account with this email already exists");
  return user;
}

/** Returns the user for valid credentials. Unknown email and wrong password fail the same way, in the same time. */
export async function authenticate(db: Database, email: string, password: string) {
  const [row] = await db
    .select({ ...publicColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(sql`lower(${users.email})`, email.trim().toLowerCase()));
  const ok = await verifyPassword(row?.passwordHash ?? (await dummyHash()), password);
  if (!row || !ok) throw new AppError("AUTHENTICATION_ERROR", "Invalid email or password");
  const { passwordHash: _hash, ...user } = row;
  return user;
}
