// GraphiQL's page and assets over app.fetch (no browser, no port): routes, compression, caching.
// test/http/graphiqlBrowser.test.ts runs the page itself in Chromium.
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_OPERATION } from '../../src/yoga.js';
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase } from '../harness/database.js';

let target: TestDatabase;
let api: TestApp;

beforeAll(async () => {
  target = await createTestDatabase('graphiql_assets');
  api = createTestApp(target.url);
});

afterAll(async () => {
  await api.close();
  await target.drop();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  api.app.fetch(`http://localhost${path}`, { method, headers, redirect: 'manual' });

async function page(): Promise<{ html: string; script: string; style: string; icon: string }> {
  const response = await get('/graphql', { accept: 'text/html' });
  const html = await response.text();
  const find = (pattern: RegExp) => pattern.exec(html)?.[1] ?? '';
  return {
    html,
    script: find(/<script src="([^"]+)"/),
    style: find(/<link rel="stylesheet" href="([^"]+)"/),
    icon: find(/<link rel="icon" type="image\/svg\+xml" href="([^"]+)"/),
  };
}

const bytes = async (response: Response) => Buffer.from(await response.arrayBuffer());

describe('GraphiQL page', () => {
  it('redirects / to /graphql', async () => {
    const response = await get('/');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/graphql');
  });

  it('serves the page to a browser, revalidated on each visit, with the example operation and assets on this host', async () => {
    const response = await get('/graphql', { accept: 'text/html,application/xhtml+xml', 'accept-encoding': 'identity' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    // its own files and its own server only (test/http/graphiqlBrowser.test.ts: nothing it needs is blocked)
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; font-src 'self'; " +
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    const html = await response.text();
    expect(html).toContain('<title>pgscope</title>');
    const config = JSON.parse(/<script type="application\/json" id="pgscope-graphiql-config">(.*)<\/script>/.exec(html)![1]!);
    expect(config).toEqual({ title: 'pgscope', endpoint: '/graphql', defaultQuery: EXAMPLE_OPERATION });
    // No inline script (a Content-Security-Policy can allow 'self' only) and nothing from another host.
    expect(html.match(/<script[^>]*>/g)).toEqual([
      '<script type="application/json" id="pgscope-graphiql-config">',
      expect.stringMatching(/^<script src="\/graphiql\/graphiql\.[0-9a-f]{16}\.js" defer>$/),
    ]);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('answers a repeated page request with 304 when its ETag matches', async () => {
    const first = await get('/graphql', { accept: 'text/html', 'accept-encoding': 'gzip' });
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{16}-gzip"$/);
    const again = await get('/graphql', { accept: 'text/html', 'accept-encoding': 'gzip', 'if-none-match': etag });
    expect(again.status).toBe(304);
  });

  it('leaves GraphQL requests to the endpoint', async () => {
    const response = await get('/graphql?query=%7B__typename%7D', { accept: 'application/json' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' }, extensions: { sqlStatements: 0 } });
  });
});

describe('GraphiQL assets', () => {
  it('serves the script compressed (brotli, else gzip) and cacheable for a year', async () => {
    const { script } = await page();
    const plain = await get(script, { 'accept-encoding': 'identity' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-encoding')).toBeNull();
    const source = await bytes(plain);
    expect(source.toString()).toContain("ReactDOM.createRoot(document.getElementById('graphiql'))");
    expect(source.toString()).not.toContain('sourceMappingURL');

    const br = await get(script, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('vary')).toBe('Accept-Encoding');
    expect(br.headers.get('etag')).toBe(`"${/\.([0-9a-f]{16})\.js$/.exec(script)![1]}-br"`);
    const brBody = await bytes(br);
    expect(zlib.brotliDecompressSync(brBody).equals(source)).toBe(true);
    expect(brBody.length).toBeLessThan(source.length / 3);

    const gzip = await get(script, { 'accept-encoding': 'gzip, br;q=0' });
    expect(gzip.headers.get('content-encoding')).toBe('gzip');
    expect(zlib.gunzipSync(await bytes(gzip)).equals(source)).toBe(true);
  });

  it('serves the stylesheet with its fonts as separate files of this host', async () => {
    const { style } = await page();
    const response = await get(style, { 'accept-encoding': 'identity' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const css = await response.text();
    expect(css.match(/url\((https?:|\/\/|data:)|@import/g)).toBeNull();
    expect(css.match(/url\(image\.[0-9a-f]{16}\.png\)/g)).toHaveLength(3);
    const fonts = [...css.matchAll(/url\((font\.[0-9a-f]{16}\.woff2?)\)/g)].map((match) => match[1]!);
    expect(fonts).toHaveLength(34);
    const font = await get(`/graphiql/${fonts[0]}`, { 'accept-encoding': 'gzip, br' });
    expect(font.status).toBe(200);
    expect(font.headers.get('content-type')).toBe('font/woff2');
    expect(font.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // woff2 is compressed already.
    expect(font.headers.get('content-encoding')).toBeNull();
    expect((await bytes(font)).subarray(0, 4).toString()).toBe('wOF2');
  });

  it('serves the icon, and HEAD without a body', async () => {
    const { icon } = await page();
    const head = await get(icon, { 'accept-encoding': 'identity' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('image/svg+xml');
    expect((await bytes(head)).length).toBe(0);
    expect(Number(head.headers.get('content-length'))).toBe((await bytes(await get(icon, { 'accept-encoding': 'identity' }))).length);
  });

  it('answers 304 when the ETag matches, and 404 for unknown or outdated asset URLs', async () => {
    const { style } = await page();
    const first = await get(style, { 'accept-encoding': 'br' });
    const again = await get(style, { 'accept-encoding': 'br', 'if-none-match': first.headers.get('etag')! });
    expect(again.status).toBe(304);
    expect(again.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await get('/graphiql/graphiql.0000000000000000.css')).status).toBe(404);
    expect((await get('/graphiql/../package.json')).status).toBe(404);
  });
});
