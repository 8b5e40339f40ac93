import { Type } from "@sinclair/typebox";
import { PASSWORD_MIN_LENGTH, PASSWORD_RULE } from "../../lib/passwords.js";
import { Timestamp } from "../../lib/schemas.js";

export const UserSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    email: Type.String({ format: "email" }),
    name: Type.Union([Type.String(), Type.Null()]),
    createdAt: Timestamp(),
  },
  { $id: "User" },
);

export const AccessTokenSchema = Type.Object(
  {
    access_token: Type.String({ description: "JWT (HS256); send as `Authorization: Bearer <token>`" }),
    token_type: Type.Literal("bearer"),
    expires_in: Type.Integer({ description: "Seconds until the token expires" }),
  },
  { $id: "AccessToken" },
);

export const RegisteredSchema = Type.Object(
  {
    user: Type.Ref(UserSchema),
    access_token: Type.String(),
    token_type: Type.Literal("bearer"),
    expires_in: Type.Integer(),
  },
  { $id: "Registration" },
);

const Email = Type.String({ format: "email", maxLength: 254, description: "Case-insensitive" });

export const RegisterBody = Type.Object(
  {
    email: Email,
    password: Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: 256, description: PASSWORD_RULE }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false, $id: "RegisterRequest" },
);

export const LoginBody = Type.Object(
  { email: Email, password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false, $id: "LoginRequest" },
);

export const authSchemas = [UserSchema, AccessTokenSchema, RegisteredSchema, RegisterBody, LoginBody];
