// PostgreSQL text cannot hold the NUL character: a string argument carrying one would fail deep
// inside a resolver (SQLSTATE 22021 from the server, or a C string cut short by the parser) as an
// unexpected error. One check, before any resolver runs, covers every string argument at once:
// literals in the document ("\u0000" is a valid GraphQL escape) and variable values.
import { Kind, visit, type ArgumentNode, type ASTNode, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { badInput } from '../errors.js';

export function useNulGuard(): Plugin {
  // Yoga caches a parsed document by its text: one found without NUL is not walked again (its
  // variables, which change with every request, always are).
  const clean = new WeakSet<DocumentNode>();
  const inDocument = (document: DocumentNode) => {
    if (clean.has(document)) return undefined;
    const where = nulInDocument(document);
    if (!where) clean.add(document);
    return where;
  };
  const refusal = (document: DocumentNode, variables: Record<string, unknown> | null | undefined) => {
    const where = inDocument(document) ?? nulInVariables(variables);
    return where
      ? { errors: [badInput(`${where.label} contains a NUL character (\\u0000), which PostgreSQL text cannot hold.`, where.details)] }
      : undefined;
  };
  // queries and mutations, and subscriptions (whose every event would fail the same way)
  return {
    onExecute: ({ args, setResultAndStopExecution }) => {
      const refused = refusal(args.document, args.variableValues);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe: ({ args, setResultAndStopExecution }) => {
      const refused = refusal(args.document, args.variableValues);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}

interface Location {
  label: string;
  details: Record<string, string>;
}

function nulInDocument(document: DocumentNode): Location | undefined {
  let found: Location | undefined;
  visit(document, {
    StringValue(node, _key, parent, _path, ancestors) {
      if (found || !node.value.includes('\u0000')) return;
      // The nearest enclosing argument names it (a string may sit deep inside an input object).
      const argument = [...ancestors, parent].reverse().find((ancestor) => isNode(ancestor) && ancestor.kind === Kind.ARGUMENT) as
        | ArgumentNode
        | undefined;
      const name = argument?.name.value;
      found = name ? { label: `Argument ${name}`, details: { argument: name } } : { label: 'A string in the operation', details: {} };
    },
  });
  return found;
}

function nulInVariables(variables: Readonly<Record<string, unknown>> | null | undefined): Location | undefined {
  for (const [name, value] of Object.entries(variables ?? {})) {
    if (holdsNul(value)) return { label: `Variable $${name}`, details: { variable: name } };
  }
  return undefined;
}

function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(holdsNul);
  if (value !== null && typeof value === 'object') return Object.values(value).some(holdsNul);
  return false;
}

function isNode(value: unknown): value is ASTNode {
  return value !== null && typeof value === 'object' && 'kind' in value;
}
