-- Events between instances (event.Transport): a WebSocket message is sent
-- with pg_notify on gocomfy_events, whose payload must stay under 8000
-- bytes; a larger one (an "executed" with many outputs) is stored here and
-- its id notified instead. Rows are deleted after a few minutes, long
-- after every listener read them.
CREATE TABLE events (
    id      bigserial PRIMARY KEY,
    payload bytea NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_created ON events (created);
