// The script that starts GraphiQL in the page (served inside the one script of graphiqlAssets.ts).
/**
 * Starts GraphiQL from the config the page carries in a JSON data block, so that the page holds
 * no inline script (a strict Content-Security-Policy allows scripts from 'self' only).
 *
 * Headers (a token) are kept across reloads only when the user turns on GraphiQL's own Settings >
 * Persist headers, which stores them in this origin's localStorage. GraphiQL 3.9 resets that choice
 * to its shouldPersistHeaders prop on every load, so the page passes the choice GraphiQL stored. At
 * load it also empties its stored headers (the headers editor does not exist yet when it saves
 * them); the tabs it stores keep them, so the page gives it those as its default headers.
 *
 * GraphiQL fetches the schema (docs, autocompletion) once, with the headers of the moment: when
 * reads need a token, before one is typed, that fails. A new fetcher makes it fetch again, so the
 * page makes one when the headers change (and parse), half a second after the last keystroke.
 *
 * GraphiQL 3.9 also keeps the headers of every operation run in its history and favorites, whatever
 * Persist headers says, and a delayed save of its tabs can write their headers back just after it is
 * turned off. The storage the page hands GraphiQL drops headers from history and favorites always,
 * and from the tabs while Persist headers is off, so that a token lands in localStorage only while
 * the user wants it there (turning Persist headers off removes it).
 */
export const BOOTSTRAP = `
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('pgscope-graphiql-config').textContent);
  var h = React.createElement;
  var local = localStorageOrNull();
  var persistHeaders = local !== null && local.getItem('graphiql:shouldPersistHeaders') === 'true';
  var LISTS = { 'graphiql:queries': 'queries', 'graphiql:favorites': 'favorites', 'graphiql:tabState': 'tabs' };
  // GraphiQL's choice as it writes it; what it saved just before turning it on is held until then.
  var persisting = persistHeaders;
  var held = {};

  function localStorageOrNull() {
    try {
      return window.localStorage;
    } catch (error) {
      return null; // storage disabled by the browser: nothing is kept
    }
  }

  // The headers GraphiQL kept (Persist headers on): its own copy, else the active tab's.
  function keptHeaders() {
    if (!persistHeaders) return undefined;
    try {
      var tabState = JSON.parse(local.getItem('graphiql:tabState') || '{}');
      var tab = (tabState.tabs || [])[tabState.activeTabIndex];
      return local.getItem('graphiql:headers') || (tab && tab.headers) || undefined;
    } catch (error) {
      return undefined;
    }
  }

  // A history, favorites or tabs list as stored, without the headers of its operations.
  function withoutHeaders(key, value) {
    var list = LISTS[key];
    if (!list || (key === 'graphiql:tabState' && persisting)) return value;
    try {
      var stored = JSON.parse(value);
      (stored[list] || []).forEach(function (item) {
        delete item.headers;
      });
      return JSON.stringify(stored);
    } catch (error) {
      return value;
    }
  }

  // GraphiQL's writes. Turning Persist headers on, it saves the headers and tabs first, then its
  // choice: while the choice is off they are held back (tabs stored without headers), then written.
  function save(key, value) {
    if (key === 'graphiql:shouldPersistHeaders') {
      persisting = value === 'true';
      local.setItem(key, value);
      if (persisting) Object.keys(held).forEach(function (heldKey) { local.setItem(heldKey, held[heldKey]); });
      held = {};
      return;
    }
    if (!persisting && (key === 'graphiql:headers' || key === 'graphiql:tabState')) held[key] = value;
    if (!persisting && key === 'graphiql:headers') return;
    local.setItem(key, withoutHeaders(key, value));
  }

  // GraphiQL's own localStorage adapter (its keys start with "graphiql:"), with the changes above.
  var storage = local && {
    getItem: function (key) {
      return local.getItem(key);
    },
    setItem: save,
    removeItem: function (key) {
      local.removeItem(key);
    },
    clear: function () {
      Object.keys(local).forEach(function (key) {
        if (key.indexOf('graphiql:') === 0) local.removeItem(key);
      });
    },
    get length() {
      return Object.keys(local).filter(function (key) {
        return key.indexOf('graphiql:') === 0;
      }).length;
    },
  };

  // The headers as the schema request sends them, or null while the text is not a JSON object.
  function headersKey(text) {
    try {
      var headers = JSON.parse(text.trim() || '{}');
      return headers !== null && typeof headers === 'object' && !Array.isArray(headers) ? JSON.stringify(headers) : null;
    } catch (error) {
      return null;
    }
  }

  var initialHeaders = keptHeaders();

  // GraphiQL's own fetcher sends subscriptions over a WebSocket: pgscope serves them as
  // Server-Sent Events instead, read here from the response body as they come.
  function isSubscription(params, opts) {
    var definitions = (opts && opts.documentAST && opts.documentAST.definitions) || [];
    var operations = definitions.filter(function (d) { return d.kind === 'OperationDefinition'; });
    var chosen = params.operationName
      ? operations.find(function (d) { return d.name && d.name.value === params.operationName; })
      : operations[0];
    return Boolean(chosen && chosen.operation === 'subscription');
  }

  // Stopping the subscription in GraphiQL returns the generator: its finally cancels the request.
  async function* eventStream(params, headers) {
    var response = await fetch(config.endpoint, {
      method: 'POST',
      headers: Object.assign({ 'content-type': 'application/json', accept: 'text/event-stream' }, headers),
      body: JSON.stringify(params),
    });
    if (!/^text\\/event-stream/.test(response.headers.get('content-type') || '')) {
      yield await response.json();
      return;
    }
    var reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    var buffer = '';
    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) return;
        buffer += chunk.value;
        for (var end = buffer.indexOf('\\n\\n'); end >= 0; end = buffer.indexOf('\\n\\n')) {
          var block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          var event = (/^event: ?(\\w+)$/m.exec(block) || [])[1];
          if (event === 'complete') return;
          var data = block.split('\\n')
            .filter(function (line) { return line.indexOf('data:') === 0; })
            .map(function (line) { return line.slice(5).replace(/^ /, ''); })
            .join('\\n');
          if (data) yield JSON.parse(data);
        }
      }
    } finally {
      reader.cancel().catch(function () {});
    }
  }

  function Page() {
    var generation = React.useState(0);
    // the headers of the first schema request: the editor reports them again as it starts
    var sentHeaders = React.useRef(headersKey(initialHeaders || ''));
    var pause = React.useRef(undefined);
    // createFetcher sends the headers editor's headers (e.g. Authorization) with every operation.
    var fetcher = React.useMemo(function () {
      var plain = GraphiQL.createFetcher({ url: config.endpoint });
      return function (params, opts) {
        return isSubscription(params, opts) ? eventStream(params, (opts && opts.headers) || {}) : plain(params, opts);
      };
    }, [generation[0]]);
    function onEditHeaders(text) {
      clearTimeout(pause.current);
      pause.current = setTimeout(function () {
        var key = headersKey(text);
        if (key === null || key === sentHeaders.current) return;
        sentHeaders.current = key;
        generation[1](function (n) { return n + 1; });
      }, 500);
    }
    return h(
      GraphiQL,
      {
        fetcher: fetcher,
        defaultQuery: config.defaultQuery,
        defaultHeaders: initialHeaders,
        storage: storage || undefined,
        // true, or undefined rather than false: false would also hide the setting
        shouldPersistHeaders: persistHeaders || undefined,
        onEditHeaders: onEditHeaders,
      },
      h(GraphiQL.Logo, null, config.title)
    );
  }

  ReactDOM.createRoot(document.getElementById('graphiql')).render(h(Page));
})();
`;
