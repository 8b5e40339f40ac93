import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import type { Config } from "../../config.js";
import { AppError } from "../../errors.js";
import { PASSWORD_RULE } from "../../lib/passwords.js";
import { errorResponse } from "../../lib/schemas.js";
import { userOf } from "../../plugins/auth.js";
import { loginRateLimit } from "../../plugins/rate-limit.js";
import { AccessTokenSchema, LoginBody, RegisterBody, RegisteredSchema, UserSchema } from "./schemas.js";
import { authenticate, registerUser } from "./service.js";

export const authRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb; config: Config }> = async (
  app,
  { db, config },
) => {
  const token = (userId: string) => ({
    access_token: app.signAccessToken(userId),
    token_type: "bearer" as const,
    expires_in: config.jwt.expiresIn,
  });
  // One budget per IP for login and register together: a taken address answers 409, so probing for accounts
  // through register costs the same attempts as guessing passwords through login.
  const attempts = app.rateLimit(loginRateLimit(config));

  app.post(
    "/register",
    {
      config: { public: true, rateLimit: false },
      onRequest: attempts,
      schema: {
        operationId: "register",
        tags: ["auth"],
        summary: "Create an account (can be disabled with MIMIC_ALLOW_REGISTRATION=false)",
        description: `Password: ${PASSWORD_RULE}. Shares the login attempt limit per IP (MIMIC_RATE_LIMIT_LOGIN).`,
        body: Type.Ref(RegisterBody),
        response: {
          201: Type.Ref(RegisteredSchema),
          403: errorResponse("Registration is disabled on this server"),
          409: errorResponse("An account with this email already exists"),
          422: errorResponse("Invalid email, or a password that is too short or too easy to guess"),
        },
      },
    },
    async (request, reply) => {
      if (!config.allowRegistration) {
        throw new AppError("AUTHORIZATION_ERROR", "Registration is disabled on this server");
      }
      const user = await registerUser(db.db, request.body);
      return reply.status(201).send({ user, ...token(user.id) });
    },
  );

  app.post(
    "/login",
    {
      config: { public: true, rateLimit: false },
      onRequest: attempts,
      schema: {
        operationId: "login",
        tags: ["auth"],
        summary: "Exchange email and password for an access token",
        body: Type.Ref(LoginBody),
        response: { 200: Type.Ref(AccessTokenSchema), 401: errorResponse("Invalid email or password") },
      },
    },
    async (request) => {
      const user = await authenticate(db.db, request.body.email, request.body.password);
      return token(user.id);
    },
  );

  app.get(
    "/me",
    {
      schema: {
        operationId: "getCurrentUser",
        tags: ["auth"],
        summary: "The authenticated user",
        response: { 200: Type.Ref(UserSchema) },
      },
    },
    async (request) => userOf(request),
  );
};
