-- The engine updates a running session's row several times per turn. Updates that change no indexed column are HOT
-- (no index entries written) when the new row version fits on the same page: room is kept on every page for that.
-- sessions_leased_idx made each claim and release non-HOT (lease_owner was in its predicate); the claim counts a
-- user's leases from the due index instead.
DROP INDEX "sessions_leased_idx";--> statement-breakpoint
ALTER TABLE "sessions" SET (fillfactor = 70);
