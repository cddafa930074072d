-- The DBA's index set for the shop workload, configuration (c) of the advisor bench: written by
-- reading the schema (shop.sql) and the query mix (shop.ts), before pgscope's advisor ever ran on
-- this workload (see the git history). Each index says which statements of the mix it serves.
-- pg_trgm for the substring search on product names (a contrib extension; outside the index count).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- recent_events (customer_id = $1 ORDER BY at DESC LIMIT 20): a backward scan per weekly
-- partition, merged; also serves the events -> customers foreign key.
CREATE INDEX events_customer_id_at_idx ON events (customer_id, at);

-- kind_window (kind = $1 AND at in a one-hour window, count): partitions pruned by at, then one range per kind.
CREATE INDEX events_kind_at_idx ON events (kind, at);

-- order_events (kind = 'checkout' AND payload ->> 'order_id' = $1): only checkouts (5 % of events)
-- carry an order id, so the expression index is partial.
CREATE INDEX events_checkout_order_id_idx ON events ((payload ->> 'order_id')) WHERE kind = 'checkout';

-- customer_orders (customer_id = $1 ORDER BY created_at DESC LIMIT 10); also the orders -> customers foreign key.
CREATE INDEX orders_customer_id_created_at_idx ON orders (customer_id, created_at);

-- pending_orders and ship_order (status = 'pending' ORDER BY created_at LIMIT ...): the queue is
-- under 1 % of the orders; a partial index is the queue itself and stays small.
CREATE INDEX orders_pending_created_at_idx ON orders (created_at) WHERE status = 'pending';

-- daily_revenue (created_at in a one-day window, sum(total) and count): INCLUDE total for an index-only scan.
CREATE INDEX orders_created_at_idx ON orders (created_at) INCLUDE (total);

-- order_items (order_id = $1, joined to products by their primary key); also the order_items -> orders foreign key.
CREATE INDEX order_items_order_id_idx ON order_items (order_id);

-- products_by_tag (tags @> $1).
CREATE INDEX products_tags_idx ON products USING gin (tags);

-- product_search (name ILIKE '%word%' ORDER BY name LIMIT 20): trigrams, as a btree cannot serve a leading wildcard.
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops);

-- customer_by_email (lower(email) = lower($1)): emails are unique whatever their case.
CREATE UNIQUE INDEX customers_lower_email_idx ON customers (lower(email));
