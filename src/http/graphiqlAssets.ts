// GraphiQL's files, taken from our own dependencies (graphiql 3 UMD bundle, React 18 UMD builds)
// so that the page works on a machine without internet. Built once per process, on first use:
// tests that never open GraphiQL never read or compress them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { BOOTSTRAP } from './graphiqlBootstrap.js';

/** Where the asset routes live; every asset URL is `${ASSET_PREFIX}<name>.<hash>.<ext>`. */
export const ASSET_PREFIX = '/graphiql/';

export type Encoding = 'br' | 'gzip' | 'identity';

/** Plain bytes (not a pooled Buffer), which is what a fetch Response accepts. */
export type Bytes = Uint8Array<ArrayBuffer>;

export interface Asset {
  /** URL path, content-hashed: a changed file gets a new URL, so it may be cached forever. */
  path: string;
  contentType: string;
  body: Bytes;
  /** Already compressed formats (fonts) gain nothing from gzip or brotli. */
  compressible: boolean;
  hash: string;
  /** Compressed bodies, made once on first request of each encoding. */
  encoded: Partial<Record<Exclude<Encoding, 'identity'>, Promise<Bytes>>>;
}

export interface GraphiQLAssets {
  script: Asset;
  style: Asset;
  icon: Asset;
  byPath: Map<string, Asset>;
}

const require = createRequire(import.meta.url);

function packageFile(pkg: string, file: string): string {
  return fs.readFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file), 'utf8');
}

/** The page fills the window; GraphiQL's own CSS sizes everything inside. */
const PAGE_CSS = 'html,body,#graphiql{height:100%;margin:0}';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#336791"/>' +
  '<text x="16" y="22" font-family="sans-serif" font-size="15" font-weight="bold" fill="#fff" text-anchor="middle">pg</text></svg>';

let built: GraphiQLAssets | undefined;

export function graphiqlAssets(): GraphiQLAssets {
  built ??= buildAssets();
  return built;
}

function buildAssets(): GraphiQLAssets {
  const byPath = new Map<string, Asset>();
  const add = (name: string, ext: string, contentType: string, body: Bytes, compressible = true): Asset => {
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
    const asset: Asset = { path: `${ASSET_PREFIX}${name}.${hash}.${ext}`, contentType, body, compressible, hash, encoded: {} };
    byPath.set(asset.path, asset);
    return asset;
  };

  // One script: React, ReactDOM and GraphiQL set globals in this order, then the bootstrap runs.
  const script = [
    packageFile('react', 'umd/react.production.min.js'),
    packageFile('react-dom', 'umd/react-dom.production.min.js'),
    packageFile('graphiql', 'graphiql.min.js'),
    BOOTSTRAP,
  ]
    // The source maps are not served (4 MB); without the comment, devtools do not ask for them.
    .map((source) => source.replace(/^\/\/# sourceMappingURL=.*$/gm, ''))
    .join('\n;\n');

  // GraphiQL's CSS inlines 34 fonts as data: URIs (360 kB of its 410 kB). Served as files instead,
  // the browser fetches only the few whose unicode-range the page uses; the three lint icons go
  // out too, so that a Content-Security-Policy need not allow data: URIs.
  const css = packageFile('graphiql', 'graphiql.min.css').replace(
    /url\(data:(font|image)\/(woff2|woff|png);base64,([A-Za-z0-9+/=]+)\)/g,
    (_match, kind: string, format: string, base64: string) => {
      const file = add(kind, format, `${kind}/${format}`, new Uint8Array(Buffer.from(base64, 'base64')), false);
      return `url(${path.posix.basename(file.path)})`;
    },
  );

  return {
    script: add('graphiql', 'js', 'text/javascript; charset=utf-8', bytes(script)),
    style: add('graphiql', 'css', 'text/css; charset=utf-8', bytes(`${css}\n${PAGE_CSS}\n`)),
    icon: add('favicon', 'svg', 'image/svg+xml', bytes(ICON_SVG)),
    byPath,
  };
}

/** Makes an in-memory asset (the page itself) that goes through the same encoding and ETag logic. */
export function memoryAsset(contentType: string, text: string): Asset {
  const body = bytes(text);
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return { path: '', contentType, body, compressible: true, hash, encoded: {} };
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/**
 * The body in the given encoding, compressed once and kept. Brotli quality 9: 0.2 s for the
 * 1.1 MB script and within 10 % of quality 11, which takes 3 s and would stall the first page load.
 */
export function encodedBody(asset: Asset, encoding: Encoding): Promise<Bytes> {
  if (encoding === 'identity') return Promise.resolve(asset.body);
  const encoded =
    asset.encoded[encoding] ??
    (encoding === 'br'
      ? brotli(asset.body, {
          params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 9, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: asset.body.length },
        })
      : gzip(asset.body, { level: 9 })
    ).then((compressed) => new Uint8Array(compressed));
  asset.encoded[encoding] = encoded;
  return encoded;
}

/** Brotli when the client takes it, else gzip, else none (q=0 refuses an encoding). */
export function pickEncoding(acceptEncoding: string | null): Encoding {
  const accepted = new Set<string>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const refused = params.some((param) => /^\s*q=0(\.0*)?\s*$/.test(param));
    if (name && !refused) accepted.add(name);
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return 'identity';
}

function bytes(text: string): Bytes {
  return new TextEncoder().encode(text);
}
