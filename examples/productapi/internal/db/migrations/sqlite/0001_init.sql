-- Initial schema, SQLite dialect.
--
-- Timestamps are TEXT holding RFC 3339 UTC with nanoseconds
-- ("2006-01-02T15:04:05.999999999Z"), which sorts lexically in time order.
-- Booleans are INTEGER 0/1.

CREATE TABLE categories (
    id         BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE products (
    asin                 TEXT PRIMARY KEY,
    title                TEXT NOT NULL,
    img_url              TEXT NOT NULL DEFAULT '',
    product_url          TEXT NOT NULL DEFAULT '',
    stars                REAL NOT NULL DEFAULT 0,
    reviews              INTEGER NOT NULL DEFAULT 0,
    price                REAL NOT NULL DEFAULT 0,
    list_price           REAL NOT NULL DEFAULT 0,
    category_id          BIGINT NOT NULL REFERENCES categories(id),
    is_best_seller       INTEGER NOT NULL DEFAULT 0 CHECK (is_best_seller IN (0, 1)),
    bought_in_last_month INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

-- List queries filter by category, price and best-seller flag and sort by
-- price, stars or reviews; ASIN breaks ties so that paging is stable.
CREATE INDEX products_category_price ON products (category_id, price, asin);
CREATE INDEX products_category_stars ON products (category_id, stars, asin);
CREATE INDEX products_category_reviews ON products (category_id, reviews, asin);
CREATE INDEX products_price ON products (price, asin);
CREATE INDEX products_stars ON products (stars, asin);
CREATE INDEX products_reviews ON products (reviews, asin);
CREATE INDEX products_best_seller ON products (is_best_seller, asin) WHERE is_best_seller = 1;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at    TEXT NOT NULL
);
