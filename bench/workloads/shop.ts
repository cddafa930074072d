// The shop: customers, products (tags text[], names searched with ILIKE), orders, order items and
// a weekly-partitioned events table (bench/workloads/shop.sql). Its mix: a customer's recent
// events and orders, the items of an order, the pending-orders queue, products by tag and by
// name, sign-in by e-mail in any case, a day's revenue, and 16 % writes (events tracked, orders
// placed, the oldest pending order shipped). Hot customers are drawn as often as the data has
// them (Zipf s = 0.8), so the statements of the heaviest customers weigh their share.
import { oneOf, rowsAt, uniform, zipf } from '../draw.js';
import { loadSqlWorkload, WORKLOADS_DIR, type AdvisorWorkload, type MixScript } from './workload.js';

const TABLES = ['customers', 'products', 'orders', 'order_items', 'events'];
/** The nouns of shop.sql's product names (a search term finds 1 in 40 products). */
const NOUNS =
  'lamp chair table mug kettle backpack jacket sneaker watch speaker headphones blanket pillow bottle knife pan notebook pen wallet scarf helmet tent bicycle camera tripod charger cable keyboard mouse monitor desk shelf rug vase candle clock mirror basket towel umbrella'.split(
    ' ',
  );
const KINDS_COUNTED = ['checkout', 'add_to_cart', 'search', 'support', 'review'];
const EVENT_KINDS = ['page_view', 'page_view', 'page_view', 'search', 'add_to_cart'];
const HOUR_MS = 3_600_000;

export function shopMix(scale: number): MixScript[] {
  const customers = rowsAt(100_000, scale);
  const products = rowsAt(20_000, scale);
  const orders = rowsAt(400_000, scale);
  const customer = (random: () => number) => zipf(random(), customers, 0.8);
  return [
    {
      name: 'recent_events',
      weight: 22,
      sql: 'SELECT at, kind, payload FROM events WHERE customer_id = $1 ORDER BY at DESC LIMIT 20',
      draw: (r) => [customer(r)],
    },
    {
      name: 'customer_orders',
      weight: 12,
      sql: 'SELECT id, status, total, created_at FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10',
      draw: (r) => [customer(r)],
    },
    {
      name: 'order_items',
      weight: 12,
      sql: 'SELECT i.product_id, p.name, i.quantity, i.unit_price FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = $1',
      draw: (r) => [uniform(r, orders)],
    },
    {
      name: 'pending_orders',
      weight: 6,
      sql: `SELECT id, customer_id, total, created_at FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 50`,
      draw: () => [],
    },
    {
      name: 'products_by_tag',
      weight: 8,
      sql: 'SELECT id, name, price FROM products WHERE tags @> $1::text[] ORDER BY price LIMIT 24',
      draw: (r) => [[`tag${zipf(r(), 200, 1.1)}`]],
    },
    {
      name: 'product_search',
      weight: 4,
      sql: 'SELECT id, name, price FROM products WHERE name ILIKE $1 ORDER BY name LIMIT 20',
      draw: (r) => [`%${oneOf(r, NOUNS)}%`],
    },
    {
      name: 'customer_by_email',
      weight: 10,
      sql: 'SELECT id, name, country FROM customers WHERE lower(email) = lower($1)',
      draw: (r) => {
        const id = customer(r);
        return [`customer.${id}@mail${id % 7}.EXAMPLE`];
      },
    },
    {
      name: 'daily_revenue',
      weight: 3,
      sql: 'SELECT count(*), sum(total) FROM orders WHERE created_at >= $1 AND created_at < $2',
      draw: (r) => {
        const end = Date.now() - Math.floor(r() * 364) * 24 * HOUR_MS;
        return [new Date(end - 24 * HOUR_MS), new Date(end)];
      },
    },
    {
      name: 'kind_window',
      weight: 4,
      sql: 'SELECT count(*) FROM events WHERE kind = $1 AND at >= $2 AND at < $3',
      draw: (r) => {
        const end = Date.now() - Math.floor(r() * 24 * 83) * HOUR_MS;
        return [oneOf(r, KINDS_COUNTED), new Date(end - HOUR_MS), new Date(end)];
      },
    },
    {
      name: 'order_events',
      weight: 3,
      sql: `SELECT at, customer_id, payload FROM events WHERE kind = 'checkout' AND payload ->> 'order_id' = $1`,
      draw: (r) => [String(uniform(r, orders))],
    },
    {
      name: 'track_event',
      weight: 8,
      sql: 'INSERT INTO events (customer_id, at, kind, payload) VALUES ($1, now(), $2, $3::jsonb)',
      draw: (r) => {
        const kind = oneOf(r, EVENT_KINDS);
        const payload =
          kind === 'search' ? { q: `term${uniform(r, 500) - 1}` } : { path: `/p/${uniform(r, products)}`, ms: uniform(r, 3000) };
        return [customer(r), kind, JSON.stringify(payload)];
      },
    },
    {
      name: 'place_order',
      weight: 4,
      sql: `WITH o AS (INSERT INTO orders (customer_id, status, total, created_at, updated_at) VALUES ($1, 'pending', $2, now(), now()) RETURNING id)
INSERT INTO order_items (order_id, product_id, quantity, unit_price) SELECT o.id, $3, $4, $2 FROM o`,
      draw: (r) => [customer(r), (10 + Math.floor(r() * 49_000) / 100).toFixed(2), zipf(r(), products, 0.9), uniform(r, 3)],
    },
    {
      // A worker ships the oldest pending order as fast as orders are placed: the queue stays the same length.
      name: 'ship_order',
      weight: 4,
      sql: `UPDATE orders SET status = 'shipped', updated_at = now() WHERE id = (SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)`,
      draw: () => [],
    },
  ];
}

export const shop: AdvisorWorkload = {
  name: 'shop',
  describe: (scale) => {
    const rows = (base: number) => rowsAt(base, scale).toLocaleString('en-US');
    return (
      `the shop (bench/workloads/shop.sql): ${rows(100_000)} customers, ${rows(20_000)} products, ${rows(400_000)} orders, ` +
      `about ${rows(1_200_000)} order items, ${rows(1_200_000)} events in weekly partitions`
    );
  },
  load: (url, scale, log) => loadSqlWorkload(url, 'shop', TABLES, scale, log),
  mix: shopMix,
  handPicked: { label: "(c) the DBA's set (shop.dba.sql)", file: `${WORKLOADS_DIR}shop.dba.sql` },
};
