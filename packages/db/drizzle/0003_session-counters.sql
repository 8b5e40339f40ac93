ALTER TABLE "sessions" ADD COLUMN "message_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "last_message_at" timestamp with time zone;--> statement-breakpoint
-- Kept in the database itself: every insert of a message, whatever its path (engine, API, batch), counts.
CREATE FUNCTION "mimic_count_message"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "sessions"
     SET "message_count" = "message_count" + (CASE WHEN NEW."sender_type" IN ('persona', 'agent') THEN 1 ELSE 0 END),
         "last_message_at" = GREATEST("last_message_at", NEW."timestamp")
   WHERE "id" = NEW."session_id";
  RETURN NULL;
END;
$$;--> statement-breakpoint
CREATE TRIGGER "messages_count" AFTER INSERT ON "messages" FOR EACH ROW EXECUTE FUNCTION "mimic_count_message"();--> statement-breakpoint
UPDATE "sessions" s
   SET "message_count" = c.n, "last_message_at" = c.last
  FROM (SELECT "session_id",
               count(*) FILTER (WHERE "sender_type" IN ('persona', 'agent'))::int AS n,
               max("timestamp") AS last
          FROM "messages" GROUP BY "session_id") c
 WHERE c."session_id" = s."id";
