ALTER TABLE "messages" ADD COLUMN "event_seq" integer;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "event_seq" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Messages written before events had seqs: numbered in transcript order, so a replay after seq 0 finds them all.
UPDATE "messages" m
   SET "event_seq" = n.seq
  FROM (SELECT "id", row_number() OVER (PARTITION BY "session_id" ORDER BY "timestamp", "seq")::int AS seq
          FROM "messages") n
 WHERE n."id" = m."id";--> statement-breakpoint
UPDATE "sessions" s
   SET "event_seq" = c.n
  FROM (SELECT "session_id", count(*)::int AS n FROM "messages" GROUP BY "session_id") c
 WHERE c."session_id" = s."id";
