ALTER TABLE "messages" drop column "search";--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', translate("messages"."content", '<>', '  '))) STORED;--> statement-breakpoint
-- Dropping the column dropped its index: build it again.
CREATE INDEX "messages_search_idx" ON "messages" USING gin ("search");
