// The request log: an access line per request and a line per mutation, as pino writes them (one
// JSON object per line) or, with PGSCOPE_LOG_FORMAT=text, one readable line. What goes in is
// chosen field by field in src/http/observe.ts: ids, names, codes and timings, never variables,
// statement texts, tokens or literals.
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogConfig } from '../config.js';

export interface AccessLine {
  requestId: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  /** Which token the request carried, by name (admin, read, unknown, none): never the token. */
  who: string;
  type?: string;
  /** The client's own name for its operation (at most 100 characters), or null. */
  operation?: string | null;
  fields?: string[];
  errors?: string[];
}

export interface MutationLine {
  requestId: string;
  who: string;
  fields: string[];
  outcome: 'ok' | 'failed';
  errors?: string[];
  changeIds?: string[];
  /** The well-formed idempotency keys the mutation's fields were given (ids like requestId, never secrets). */
  idempotencyKeys?: string[];
}

const PROBES = new Set(['/health', '/ready', '/metrics']);

export class RequestLog {
  private readonly logger: Logger;

  /** `destination`: where lines go (tests); default standard output. */
  constructor(config: LogConfig, destination?: DestinationStream) {
    const options = {
      level: config.level,
      base: { service: 'pgscope' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    };
    const out = config.format === 'text' ? textLines(destination ?? process.stdout) : destination;
    // pino's own standard output is written synchronously: no line is lost when the process exits
    this.logger = out ? pino(options, out) : pino(options);
  }

  access(line: AccessLine): void {
    if (line.status >= 500) this.logger.error({ event: 'request', ...line }, 'request');
    // probes and scrapes come every few seconds: only at debug
    else if (PROBES.has(line.path)) this.logger.debug({ event: 'request', ...line }, 'request');
    else this.logger.info({ event: 'request', ...line }, 'request');
  }

  mutation(line: MutationLine): void {
    if (line.outcome === 'failed') this.logger.warn({ event: 'mutation', ...line }, 'mutation');
    else this.logger.info({ event: 'mutation', ...line }, 'mutation');
  }
}

/** pino's JSON line as "time level msg key=value ...". */
function textLines(to: { write(line: string): unknown }): DestinationStream {
  return {
    write(json: string) {
      const { time, level, msg, service: _service, event: _event, ...rest } = JSON.parse(json) as Record<string, unknown>;
      const pairs = Object.entries(rest).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
      to.write(`${time} ${String(level).toUpperCase()} ${msg} ${pairs.join(' ')}\n`);
    },
  };
}
