DROP INDEX "sessions_due_idx";--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', "messages"."content")) STORED;--> statement-breakpoint
ALTER TABLE "personas" ADD COLUMN "checks" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "checks" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "verdict_pending" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "group_id" uuid;--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "messages" USING gin ("search");--> statement-breakpoint
CREATE INDEX "messages_agent_latency_idx" ON "messages" USING btree ("session_id") WHERE "messages"."sender_type" = 'agent' and "messages"."latency_ms" is not null;--> statement-breakpoint
CREATE INDEX "sessions_group_idx" ON "sessions" USING btree ("group_id") WHERE "sessions"."group_id" is not null;--> statement-breakpoint
CREATE INDEX "sessions_due_idx" ON "sessions" USING btree ("next_turn_at") WHERE "sessions"."status" in ('pending', 'active') or "sessions"."verdict_pending";