// GraphiQL served from pgscope itself: the page, its assets and a redirect from `/`. Yoga's built-in
// page loads its CSS, JS and editor workers from a CDN and never starts on a machine without
// internet; this one makes no request to any other host.
import type { Plugin } from 'graphql-yoga';
import { ASSET_PREFIX, encodedBody, graphiqlAssets, memoryAsset, pickEncoding, type Asset } from './graphiqlAssets.js';

export interface GraphiQLPageOptions {
  /** The page's <title> and GraphiQL's logo text. */
  title: string;
  /** The operation a first visit opens with (GraphiQL keeps the user's own edits afterwards). */
  defaultQuery: string;
  /** Where GraphiQL sends operations. */
  endpoint: string;
}

/** Content-hashed URLs never change content, so browsers may keep them for a year unasked. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The page names the current asset URLs: browsers revalidate it (ETag) on every visit. */
const REVALIDATE = 'no-cache';

/**
 * The page may load only its own files and talk only to its own server: a script injected into it
 * could not send a token typed in the headers editor, or kept in localStorage, to another host. No
 * inline script runs. Inline styles may: GraphiQL's dialogs (Settings, shortcuts) add a <style>
 * element that locks scrolling, and CSS can leak nothing without a request to another host, which
 * the other directives refuse.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves GET/HEAD requests for `/` (redirect), the GraphQL endpoint when a browser asks for HTML,
 * and `/graphiql/<asset>`; everything else goes on to Yoga. Needs no token: a browser navigating
 * to the page cannot send one (operations sent from the page carry the headers editor's headers).
 */
export function useGraphiQLPage(options: GraphiQLPageOptions): Plugin {
  let page: Asset | undefined;
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (url.pathname === '/') {
        endResponse(new fetchAPI.Response(null, { status: 302, headers: { location: options.endpoint } }));
        return;
      }
      if (url.pathname.startsWith(ASSET_PREFIX)) {
        const asset = graphiqlAssets().byPath.get(url.pathname);
        endResponse(
          asset
            ? await assetResponse(request, asset, IMMUTABLE, fetchAPI.Response)
            : new fetchAPI.Response('Not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } }),
        );
        return;
      }
      const isEndpoint = url.pathname === options.endpoint || url.pathname === `${options.endpoint}/`;
      if (isEndpoint && request.headers.get('accept')?.includes('text/html')) {
        page ??= memoryAsset('text/html; charset=utf-8', renderPage(options));
        const response = await assetResponse(request, page, REVALIDATE, fetchAPI.Response);
        response.headers.set('content-security-policy', PAGE_CSP);
        endResponse(response);
      }
    },
  };
}

export function renderPage(options: GraphiQLPageOptions): string {
  const { script, style, icon } = graphiqlAssets();
  const config = { title: options.title, endpoint: options.endpoint, defaultQuery: options.defaultQuery };
  // In a JSON data block, only "</script" could end the element early: escape every "<".
  const configJson = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<link rel="icon" type="image/svg+xml" href="${icon.path}">
<link rel="stylesheet" href="${style.path}">
<script type="application/json" id="pgscope-graphiql-config">${configJson}</script>
<script src="${script.path}" defer></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript. Without it, POST operations to ${escapeHtml(options.endpoint)}.</noscript>
</body>
</html>
`;
}

async function assetResponse(
  request: Request,
  asset: Asset,
  cacheControl: string,
  Response: typeof globalThis.Response,
): Promise<Response> {
  const encoding = asset.compressible ? pickEncoding(request.headers.get('accept-encoding')) : 'identity';
  // Each encoding is its own representation, so it gets its own strong ETag.
  const etag = encoding === 'identity' ? `"${asset.hash}"` : `"${asset.hash}-${encoding}"`;
  const headers: Record<string, string> = { 'content-type': asset.contentType, 'cache-control': cacheControl, etag };
  if (asset.compressible) headers.vary = 'Accept-Encoding';
  if (matchesEtag(request.headers.get('if-none-match'), etag)) return new Response(null, { status: 304, headers });
  const body = await encodedBody(asset, encoding);
  if (encoding !== 'identity') headers['content-encoding'] = encoding;
  headers['content-length'] = String(body.length);
  return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers });
}

function matchesEtag(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
