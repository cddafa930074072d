-- The shop workload (bench/workloads/shop.ts), primary keys and foreign keys only: the "before"
-- state. At scale 1: 100,000 customers, 20,000 products, 400,000 orders, about 1,200,000 order
-- items and 1,200,000 events over the last 12 weeks in weekly partitions. Orders and events go to
-- customers by a Zipf-like law (s = 0.8: half of them belong to the top 5 % of customers);
-- 'delivered' dominates the order statuses, 'pending' (the last two days) is under 1 %.
-- Blocks are separated by blank lines and run two at a time, in phases separated by `-- then`;
-- :scale is replaced by the loader (bench/workloads/workload.ts).
DROP TABLE IF EXISTS events, order_items, orders, products, customers CASCADE;
CREATE TABLE customers (
  id bigserial PRIMARY KEY,
  email text NOT NULL,
  name text NOT NULL,
  country text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE products (
  id bigserial PRIMARY KEY,
  sku text NOT NULL,
  name text NOT NULL,
  category_id int NOT NULL,
  price numeric(10, 2) NOT NULL,
  tags text[] NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id bigint NOT NULL,
  status text NOT NULL,
  total numeric(10, 2) NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE order_items (
  id bigserial PRIMARY KEY,
  order_id bigint NOT NULL,
  product_id bigint NOT NULL,
  quantity int NOT NULL,
  unit_price numeric(10, 2) NOT NULL
);
CREATE TABLE events (
  id bigserial,
  customer_id bigint NOT NULL,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  payload jsonb NOT NULL,
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
DO $$
DECLARE first_week date := date_trunc('week', now())::date - 12 * 7;
BEGIN
  -- 12 past weeks, this week and the next two (the mix inserts at now())
  FOR i IN 0..14 LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
      'events_' || to_char(first_week + 7 * i, 'IYYY_IW'), first_week + 7 * i, first_week + 7 * (i + 1));
  END LOOP;
END $$;
CREATE TABLE events_default PARTITION OF events DEFAULT;
-- then

INSERT INTO customers (id, email, name, country, created_at)
SELECT g,
       'Customer.' || g || '@Mail' || (g % 7) || '.example',
       'Customer ' || g,
       (ARRAY['US','DE','FR','GB','ES','IT','NL','SE','PL','BR','CA','JP','IN','AU','MX','BE','AT','CH','DK','NO'])[1 + floor(bench_gen.unit(g, 11) * 20)::int],
       now() - bench_gen.unit(g, 12) * interval '1000 days'
FROM generate_series(1, (100000 * :scale)::int) g;

-- Names are an adjective and a noun of bench/workloads/shop.ts's lists and a model number;
-- 1 to 4 tags each, 'tag1' the most frequent (Zipf s = 1.1 over 200 tags).
INSERT INTO products (id, sku, name, category_id, price, tags, created_at)
SELECT g,
       'SKU-' || lpad(g::text, 8, '0'),
       (ARRAY['Red','Blue','Green','Black','White','Silver','Golden','Wooden','Steel','Classic',
              'Modern','Compact','Deluxe','Vintage','Smart','Portable','Organic','Premium','Basic','Rustic'])[1 + floor(bench_gen.unit(g, 21) * 20)::int]
         || ' ' ||
       (ARRAY['lamp','chair','table','mug','kettle','backpack','jacket','sneaker','watch','speaker',
              'headphones','blanket','pillow','bottle','knife','pan','notebook','pen','wallet','scarf',
              'helmet','tent','bicycle','camera','tripod','charger','cable','keyboard','mouse','monitor',
              'desk','shelf','rug','vase','candle','clock','mirror','basket','towel','umbrella'])[1 + floor(bench_gen.unit(g, 22) * 40)::int]
         || ' ' || (g % 1000),
       1 + floor(bench_gen.unit(g, 23) * 100)::int,
       round((5 + bench_gen.unit(g, 24) * 495)::numeric, 2),
       ARRAY(SELECT DISTINCT 'tag' || bench_gen.zipf(bench_gen.unit(g * 4 + i, 25), 200, 1.1)
             FROM generate_series(1, 1 + floor(bench_gen.unit(g, 26) * 4)::int) i),
       now() - bench_gen.unit(g, 27) * interval '1000 days'
FROM generate_series(1, (20000 * :scale)::int) g;

-- A year of orders; the status follows the age: pending for two days, shipped until day ten,
-- and after that delivered (92 %), cancelled (5 %) or returned (3 %).
INSERT INTO orders (id, customer_id, status, total, created_at, updated_at)
SELECT g, customer_id,
       CASE WHEN age_days < 2 THEN 'pending'
            WHEN age_days < 10 THEN 'shipped'
            WHEN u_status < 0.92 THEN 'delivered'
            WHEN u_status < 0.97 THEN 'cancelled'
            ELSE 'returned' END,
       round((10 + bench_gen.unit(g, 34) * 490)::numeric, 2),
       now() - age_days * interval '1 day',
       now() - least(age_days, 10 * bench_gen.unit(g, 35)) * interval '1 day'
FROM (SELECT g,
             bench_gen.zipf(bench_gen.unit(g, 31), (100000 * :scale)::int, 0.8) AS customer_id,
             bench_gen.unit(g, 32) * 365 AS age_days,
             bench_gen.unit(g, 33) AS u_status
      FROM generate_series(1, (400000 * :scale)::int) g
      OFFSET 0) o;

-- 1 to 5 items per order (3 on average); popular products sell more (Zipf s = 0.9).
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT o, bench_gen.zipf(bench_gen.unit(o * 8 + i, 42), (20000 * :scale)::int, 0.9),
       1 + floor(bench_gen.unit(o * 8 + i, 43) * 3)::int,
       round((5 + bench_gen.unit(o * 8 + i, 44) * 495)::numeric, 2)
FROM generate_series(1, (400000 * :scale)::int) o
CROSS JOIN LATERAL generate_series(1, 1 + floor(bench_gen.unit(o, 41) * 5)::int) i;

-- Events of the last 12 weeks: page views (60 %), searches (15 %), cart additions (12 %),
-- support contacts (5 %), checkouts (5 %, with the order's id) and reviews (3 %).
INSERT INTO events (customer_id, at, kind, payload)
SELECT customer_id, at, kind,
       CASE kind
         WHEN 'page_view' THEN jsonb_build_object('path', '/p/' || (1 + floor(u1 * (20000 * :scale)::int)::int), 'ms', floor(u2 * 3000)::int)
         WHEN 'search' THEN jsonb_build_object('q', 'term' || floor(u1 * 500)::int)
         WHEN 'add_to_cart' THEN jsonb_build_object('product_id', 1 + floor(u1 * (20000 * :scale)::int)::int, 'qty', 1 + floor(u2 * 3)::int)
         WHEN 'checkout' THEN jsonb_build_object('order_id', 1 + floor(u1 * (400000 * :scale)::int)::int, 'total', round((10 + u2 * 490)::numeric, 2))
         WHEN 'review' THEN jsonb_build_object('product_id', 1 + floor(u1 * (20000 * :scale)::int)::int, 'stars', 1 + floor(u2 * 5)::int)
         ELSE jsonb_build_object('topic', (ARRAY['delivery','refund','account','payment'])[1 + floor(u1 * 4)::int])
       END
FROM (SELECT g,
             bench_gen.zipf(bench_gen.unit(g, 51), (100000 * :scale)::int, 0.8) AS customer_id,
             now() - bench_gen.unit(g, 52) * interval '84 days' AS at,
             CASE WHEN u_kind < 0.60 THEN 'page_view'
                  WHEN u_kind < 0.75 THEN 'search'
                  WHEN u_kind < 0.87 THEN 'add_to_cart'
                  WHEN u_kind < 0.92 THEN 'support'
                  WHEN u_kind < 0.97 THEN 'checkout'
                  ELSE 'review' END AS kind,
             bench_gen.unit(g, 54) AS u1,
             bench_gen.unit(g, 55) AS u2
      FROM (SELECT g, bench_gen.unit(g, 53) AS u_kind FROM generate_series(1, (1200000 * :scale)::int) g OFFSET 0) k
      OFFSET 0) e;

-- then
SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers)),
       setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products)),
       setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders));
-- then

ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers;
ALTER TABLE order_items ADD FOREIGN KEY (order_id) REFERENCES orders, ADD FOREIGN KEY (product_id) REFERENCES products;
ALTER TABLE events ADD FOREIGN KEY (customer_id) REFERENCES customers;
