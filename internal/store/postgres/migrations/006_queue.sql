-- ComfyUI's prompt counter (store.Store.NextNumber), shared by every
-- instance: nextval never hands out a number twice, whichever instance
-- asks, and a number handed out is never handed out again, even after a
-- rollback or a restart. A database that already holds pending prompts
-- (numbered by each instance until now) continues after the highest of
-- them, as an instance did at start-up; numbers past 2^53 are ignored, as
-- float64 can't count on from them.
CREATE SEQUENCE queue_numbers MINVALUE 0 START 0;

SELECT setval('queue_numbers', floor(max(number))::bigint + 1, false) FROM jobs
    WHERE status = 'pending' AND number >= 0 AND number < 9007199254740992
    HAVING max(number) IS NOT NULL;

-- Events that may be lost (progress, previews: event.Transport's lossy)
-- are superseded within seconds and can be large (a preview is a JPEG), so
-- their rows expire sooner than the others'.
ALTER TABLE events ADD COLUMN expires timestamptz NOT NULL DEFAULT now() + interval '5 minutes';
DROP INDEX events_created;
CREATE INDEX events_expires ON events (expires);
