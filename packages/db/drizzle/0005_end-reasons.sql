CREATE TYPE "public"."session_end_reason" AS ENUM('goal_reached', 'persona_gave_up', 'message_limit', 'duration_limit', 'stopped', 'agent_error', 'persona_error', 'persona_deleted', 'agent_deleted');--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "end_reason" "session_end_reason";--> statement-breakpoint
-- Sessions that ended before end reasons were data: derive the reason from the status and the old detail text.
UPDATE "sessions" SET "end_reason" = (CASE
  WHEN "reason" = 'goal reached' THEN 'goal_reached'
  WHEN "reason" = 'message limit reached' THEN 'message_limit'
  WHEN "reason" = 'duration limit reached' THEN 'duration_limit'
  WHEN "reason" = 'persona deleted' THEN 'persona_deleted'
  WHEN "reason" = 'agent deleted' THEN 'agent_deleted'
  WHEN "reason" LIKE 'persona provider failed%' OR "reason" LIKE 'the openai persona provider%' THEN 'persona_error'
  WHEN "status" = 'failed' THEN 'agent_error'
  WHEN "status" = 'stopped' THEN 'stopped'
  ELSE 'message_limit'
END)::"session_end_reason"
WHERE "status" IN ('completed', 'failed', 'stopped') AND "end_reason" IS NULL;
