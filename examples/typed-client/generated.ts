/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
export type TableSizesQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
}>;


export type TableSizesQuery = { tables: { edges: Array<{ node: { schema: string, name: string, sizeBytes: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } | null };

export type SlowQueriesQueryVariables = Exact<{
  limit: number;
  minMeanTimeMs?: number | null | undefined;
}>;


export type SlowQueriesQuery = { slowQueries: Array<{ queryId: string, query: string, calls: string, meanTimeMs: number, totalTimeMs: number, statsSince: string | null }> | null };
