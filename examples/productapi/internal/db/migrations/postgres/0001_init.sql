-- Initial schema, PostgreSQL dialect. Timestamps are TIMESTAMPTZ.

CREATE TABLE categories (
    id         BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE products (
    asin                 TEXT PRIMARY KEY,
    title                TEXT NOT NULL,
    img_url              TEXT NOT NULL DEFAULT '',
    product_url          TEXT NOT NULL DEFAULT '',
    stars                DOUBLE PRECISION NOT NULL DEFAULT 0,
    reviews              BIGINT NOT NULL DEFAULT 0,
    price                DOUBLE PRECISION NOT NULL DEFAULT 0,
    list_price           DOUBLE PRECISION NOT NULL DEFAULT 0,
    category_id          BIGINT NOT NULL REFERENCES categories(id),
    is_best_seller       BOOLEAN NOT NULL DEFAULT false,
    bought_in_last_month BIGINT NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

-- List queries filter by category, price and best-seller flag and sort by
-- price, stars or reviews; ASIN breaks ties so that paging is stable.
CREATE INDEX products_category_price ON products (category_id, price, asin);
CREATE INDEX products_category_stars ON products (category_id, stars, asin);
CREATE INDEX products_category_reviews ON products (category_id, reviews, asin);
CREATE INDEX products_price ON products (price, asin);
CREATE INDEX products_stars ON products (stars, asin);
CREATE INDEX products_reviews ON products (reviews, asin);
CREATE INDEX products_best_seller ON products (asin) WHERE is_best_seller;

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at    TIMESTAMPTZ NOT NULL
);
