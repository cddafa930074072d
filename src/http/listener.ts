// The Node request listener around the app (what src/index.ts serves). Yoga's adapter builds each
// request's URL from the Host header and the request target ("http://" + Host + path) before any
// plugin runs; when that is no URL ("Host: local host", "Host: [::1"), it throws outside yoga and
// the adapter answers 500 with the stack trace (install paths included) as the body. Such requests
// are answered here, before the adapter sees them, as useAccessControl answers them on app.fetch.
import type { RequestListener, ServerResponse } from 'node:http';
import type { App } from '../yoga.js';
import { malformedHost } from './access.js';
import { hostNameOf } from './hosts.js';

export function httpListener(app: App): RequestListener {
  return (request, response) => {
    // No Host at all (HTTP/1.0) is the adapter's "localhost".
    const host = request.headers.host || 'localhost';
    if (hostNameOf(host) !== null && URL.canParse(`http://${host}${request.url}`)) return app.requestListener(request, response);
    // The body is not read: the connection cannot carry another request.
    response.setHeader('connection', 'close');
    void send(malformedHost(), response);
  };
}

async function send(refusal: Response, response: ServerResponse): Promise<void> {
  const body = await refusal.text();
  response.writeHead(refusal.status, Object.fromEntries(refusal.headers));
  response.end(body);
}
