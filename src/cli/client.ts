// The CLI's side of the wire: one GraphQL request to a running pgscope over HTTP. Anything that is
// not a clean answer (unreachable, an HTTP error, GraphQL errors) becomes a CliError with exit
// code 2, so a script never takes a failed request for a passed gate (curl -f exits 0 on GraphQL
// errors: they come with HTTP 200).

/** Exit codes: 0 all good, 1 a gate failed, 2 the CLI could not do what it was asked. */
export const EXIT = { OK: 0, GATE_FAILED: 1, ERROR: 2 } as const;

/** What stops the CLI before a gate could be judged; `lines` are printed as they are. */
export class CliError extends Error {
  constructor(
    readonly lines: string[],
    readonly details: Record<string, unknown> = {},
  ) {
    super(lines.join('\n'));
  }
}

export interface Endpoint {
  url: string;
  /** Bearer token, read from the environment (never taken from the command line: it would show in ps). */
  token: string | undefined;
  timeoutMs: number;
}

interface GraphQLResponse<Data> {
  data?: Data | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export async function graphql<Data>(endpoint: Endpoint, query: string, variables: Record<string, unknown> = {}): Promise<Data> {
  let response: Response;
  try {
    response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(endpoint.token ? { authorization: `Bearer ${endpoint.token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(endpoint.timeoutMs),
    });
  } catch (error) {
    // fetch's own message is "fetch failed": the reason is in its cause (ECONNREFUSED, bad port...)
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new CliError([`pgscope: cannot reach ${endpoint.url}: ${reason}`], { code: 'UNREACHABLE', reason });
  }
  const text = await response.text();
  let body: GraphQLResponse<Data>;
  try {
    body = JSON.parse(text) as GraphQLResponse<Data>;
  } catch {
    throw new CliError(
      [`pgscope: ${endpoint.url} answered HTTP ${response.status} without a GraphQL response (is it pgscope's /graphql?)`],
      {
        code: 'NOT_GRAPHQL',
        status: response.status,
      },
    );
  }
  if (body.errors?.length) {
    const errors = body.errors.map((error) => ({ code: error.extensions?.code ?? null, message: error.message }));
    throw new CliError(
      errors.map((error) => `pgscope: ${error.code ? `${error.code}: ` : ''}${error.message}`),
      { code: 'GRAPHQL_ERRORS', status: response.status, errors },
    );
  }
  if (!response.ok || !body.data) {
    throw new CliError([`pgscope: ${endpoint.url} answered HTTP ${response.status} without data`], {
      code: 'NO_DATA',
      status: response.status,
    });
  }
  return body.data;
}
