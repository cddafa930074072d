// Identifiers in SQL text pgscope writes. Every name is first checked against the catalog (or is
// pgscope's own); quoting keeps case, spaces and quotes in names from changing the statement.
/** Escapes an identifier for SQL text (callers validate it against the catalog first). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
