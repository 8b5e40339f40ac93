CREATE INDEX "sessions_leased_idx" ON "sessions" USING btree ("user_id") WHERE "sessions"."lease_owner" is not null;--> statement-breakpoint
-- Message counts per statement rather than per row: the engine inserts the messages of many sessions at once, and
-- each session row is now updated once per insert instead of once per message.
CREATE FUNCTION "mimic_count_messages"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "sessions" s
     SET "message_count" = s."message_count" + c.n,
         "last_message_at" = GREATEST(s."last_message_at", c.last)
    FROM (SELECT "session_id",
                 count(*) FILTER (WHERE "sender_type" IN ('persona', 'agent'))::int AS n,
                 max("timestamp") AS last
            FROM new_rows GROUP BY "session_id") c
   WHERE s."id" = c."session_id";
  RETURN NULL;
END;
$$;--> statement-breakpoint
DROP TRIGGER "messages_count" ON "messages";--> statement-breakpoint
DROP FUNCTION "mimic_count_message"();--> statement-breakpoint
CREATE TRIGGER "messages_count" AFTER INSERT ON "messages" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "mimic_count_messages"();
