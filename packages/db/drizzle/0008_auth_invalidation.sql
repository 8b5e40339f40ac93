-- API processes keep who a credential stands for in memory. Every change that could take access away, whatever
-- its path (the API, another process, psql), tells them on channel "mimic_auth", on commit: the payload is the
-- user whose credentials to forget, or "*" for everyone (a truncated table).
CREATE FUNCTION "mimic_auth_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('mimic_auth', '*');
  ELSIF TG_TABLE_NAME = 'users' THEN
    PERFORM pg_notify('mimic_auth', OLD."id"::text);
  ELSE
    PERFORM pg_notify('mimic_auth', OLD."user_id"::text);
  END IF;
  RETURN NULL;
END;
$$;--> statement-breakpoint
-- Any change to a user: deleted, renamed, a new password or email.
CREATE TRIGGER "users_auth_changed" AFTER UPDATE OR DELETE ON "users"
  FOR EACH ROW EXECUTE FUNCTION "mimic_auth_changed"();--> statement-breakpoint
CREATE TRIGGER "users_auth_truncated" AFTER TRUNCATE ON "users"
  FOR EACH STATEMENT EXECUTE FUNCTION "mimic_auth_changed"();--> statement-breakpoint
-- A key revoked (deleted), or its secret, owner or expiry changed; recording its use (last_used_at) is not a change.
CREATE TRIGGER "api_keys_auth_changed" AFTER DELETE OR UPDATE OF "key_hash", "user_id", "expires_at" ON "api_keys"
  FOR EACH ROW EXECUTE FUNCTION "mimic_auth_changed"();--> statement-breakpoint
CREATE TRIGGER "api_keys_auth_truncated" AFTER TRUNCATE ON "api_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION "mimic_auth_changed"();
