-- Queue notifications (store.Notifier): a job that becomes pending, queued
-- or taken back after its lease ran out, wakes the instances that LISTEN
-- on gocomfy_jobs. The payload is the schema, as several queues may share
-- one database; PostgreSQL sends identical notifications of one
-- transaction once, so a bulk change wakes each listener once.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gocomfy_jobs', current_schema());
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION jobs_notify();
CREATE TRIGGER jobs_notify_update AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status <> 'pending') EXECUTE FUNCTION jobs_notify();
