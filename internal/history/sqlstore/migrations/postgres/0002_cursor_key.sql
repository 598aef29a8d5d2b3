-- The secret that signs continue tokens (HMAC-SHA256), one row, written by
-- the first replica to start with random bytes from Go's crypto/rand, so
-- every replica sharing the store accepts the tokens of the others, across
-- restarts.
CREATE TABLE cursor_key (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  secret BYTEA NOT NULL
);
