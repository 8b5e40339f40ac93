CREATE TYPE "public"."session_phase" AS ENUM('idle', 'delivering', 'awaiting_reply');--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "turn" integer;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "phase" "session_phase" DEFAULT 'idle' NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "awaiting_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "failures" integer DEFAULT 0 NOT NULL;