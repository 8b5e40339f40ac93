CREATE TABLE "whatsapp_media" (
	"id" text PRIMARY KEY NOT NULL,
	"agent_id" uuid NOT NULL,
	"mime_type" text NOT NULL,
	"file_name" text,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "metadata" jsonb;--> statement-breakpoint
ALTER TABLE "whatsapp_media" ADD CONSTRAINT "whatsapp_media_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "whatsapp_media_agent_idx" ON "whatsapp_media" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "agents_whatsapp_phone_idx" ON "agents" USING btree (("config"->>'phone_number_id')) WHERE "agents"."type" = 'whatsapp' and "agents"."deleted_at" is null;