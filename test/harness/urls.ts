/** The database every per-file test database is copied from (extensions already created). */
export const TEMPLATE_DATABASE = 'pgscope_test_template';

export function urlForDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
