-- Cache invalidations Redis did not take, kept until it does (the
-- cachefront Store's journal): a process that exits during a Redis outage
-- leaves them here, and the next one to start applies them before it
-- serves anything from the cache. kind is 'tag' or 'key' (an entry's Redis
-- key).

CREATE TABLE cache_invalidations (
    kind       TEXT NOT NULL CHECK (kind IN ('tag', 'key')),
    item       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, item)
);
