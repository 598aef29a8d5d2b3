-- The secret that signs continue tokens (HMAC-SHA256), one row, written at
-- the first start with random bytes from Go's crypto/rand, so tokens stay
-- valid across restarts.
CREATE TABLE cursor_key (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  secret BLOB NOT NULL
);
