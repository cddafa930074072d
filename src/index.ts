// The entry point (`npm start`, `node dist/index.js`). pgscope runs as production code unless
// NODE_ENV says otherwise, as the Dockerfile runs it: libraries read NODE_ENV once, when imported,
// and graphql-js outside production checks every value's type the slow way (its cross-realm
// instanceOf: about 20 ms of a tables(first: 5000) request). So it is set before importing the rest.
process.env.NODE_ENV ??= 'production';
await import('./server.js');
