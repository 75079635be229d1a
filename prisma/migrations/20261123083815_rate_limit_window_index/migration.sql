-- The scheduled prune (lib/data/maintenance/prune.ts) finds closed rate-limit windows by their start: without an
-- index every prune read the whole table, which one caller rotating through IPv6 addresses can grow by millions
-- of rows a day.
CREATE INDEX "RateLimitBucket_windowStart_idx" ON "RateLimitBucket"("windowStart");
