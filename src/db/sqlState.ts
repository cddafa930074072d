// SQLSTATEs: the one reader (sqlStateOf) and their names (SqlState, SqlStateClass). Everything
// that tells server errors apart compares what sqlStateOf reads with these names.
import { isPgscopeError } from '../errors.js';

/**
 * The SQLSTATEs pgscope tells apart, named as PostgreSQL's "PostgreSQL Error Codes" appendix
 * (errcodes.txt) names them, upper-cased; by class, then code. Compare what sqlStateOf reads with these.
 */
export const SqlState = {
  // Class 22, data exception
  STRING_DATA_RIGHT_TRUNCATION: '22001',
  NUMERIC_VALUE_OUT_OF_RANGE: '22003',
  NULL_VALUE_NOT_ALLOWED: '22004',
  INVALID_DATETIME_FORMAT: '22007',
  DATETIME_FIELD_OVERFLOW: '22008',
  SUBSTRING_ERROR: '22011',
  DIVISION_BY_ZERO: '22012',
  INTERVAL_FIELD_OVERFLOW: '22015',
  INVALID_CHARACTER_VALUE_FOR_CAST: '22018',
  INVALID_REGULAR_EXPRESSION: '2201B',
  INVALID_ARGUMENT_FOR_LOGARITHM: '2201E',
  INVALID_ARGUMENT_FOR_POWER_FUNCTION: '2201F',
  CHARACTER_NOT_IN_REPERTOIRE: '22021',
  INVALID_PARAMETER_VALUE: '22023',
  INVALID_ESCAPE_SEQUENCE: '22025',
  ARRAY_SUBSCRIPT_ERROR: '2202E',
  DUPLICATE_JSON_OBJECT_KEY_VALUE: '22030',
  INVALID_JSON_TEXT: '22032',
  INVALID_TEXT_REPRESENTATION: '22P02',
  UNTRANSLATABLE_CHARACTER: '22P05',
  // Class 23, integrity constraint violation
  NOT_NULL_VIOLATION: '23502',
  UNIQUE_VIOLATION: '23505',
  CHECK_VIOLATION: '23514',
  // Class 25, invalid transaction state
  ACTIVE_SQL_TRANSACTION: '25001',
  READ_ONLY_SQL_TRANSACTION: '25006',
  // Class 2B, dependent privilege descriptors still exist
  DEPENDENT_OBJECTS_STILL_EXIST: '2BP01',
  // Class 42, syntax error or access rule violation
  INSUFFICIENT_PRIVILEGE: '42501',
  SYNTAX_ERROR: '42601',
  AMBIGUOUS_COLUMN: '42702',
  UNDEFINED_COLUMN: '42703',
  UNDEFINED_OBJECT: '42704',
  AMBIGUOUS_FUNCTION: '42725',
  GROUPING_ERROR: '42803',
  DATATYPE_MISMATCH: '42804',
  WRONG_OBJECT_TYPE: '42809',
  CANNOT_COERCE: '42846',
  UNDEFINED_FUNCTION: '42883',
  UNDEFINED_TABLE: '42P01',
  UNDEFINED_PARAMETER: '42P02',
  DUPLICATE_TABLE: '42P07',
  INVALID_COLUMN_REFERENCE: '42P10',
  INVALID_OBJECT_DEFINITION: '42P17',
  INDETERMINATE_DATATYPE: '42P18',
  WINDOWING_ERROR: '42P20',
  // Class 53, insufficient resources
  TOO_MANY_CONNECTIONS: '53300',
  // Class 54, program limit exceeded
  STATEMENT_TOO_COMPLEX: '54001',
  // Class 55, object not in prerequisite state
  OBJECT_NOT_IN_PREREQUISITE_STATE: '55000',
  LOCK_NOT_AVAILABLE: '55P03',
  // Class 57, operator intervention
  QUERY_CANCELED: '57014',
  ADMIN_SHUTDOWN: '57P01',
  CRASH_SHUTDOWN: '57P02',
  CANNOT_CONNECT_NOW: '57P03',
  DATABASE_DROPPED: '57P04',
  IDLE_SESSION_TIMEOUT: '57P05',
} as const;
export type SqlState = (typeof SqlState)[keyof typeof SqlState];

/** The SQLSTATE classes pgscope tests (a state's first two characters), named as the appendix heads them. */
export const SqlStateClass = {
  CONNECTION_EXCEPTION: '08',
  FEATURE_NOT_SUPPORTED: '0A',
  CARDINALITY_VIOLATION: '21',
  DATA_EXCEPTION: '22',
  INTEGRITY_CONSTRAINT_VIOLATION: '23',
  SQL_ROUTINE_EXCEPTION: '2F',
  EXTERNAL_ROUTINE_EXCEPTION: '38',
  EXTERNAL_ROUTINE_INVOCATION_EXCEPTION: '39',
  SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION: '42',
  PROGRAM_LIMIT_EXCEEDED: '54',
  PLPGSQL_ERROR: 'P0',
  INTERNAL_ERROR: 'XX',
} as const;
export type SqlStateClass = (typeof SqlStateClass)[keyof typeof SqlStateClass];

/** The class of a SQLSTATE: its first two characters. */
export function sqlStateClassOf(state: string): string {
  return state.slice(0, 2);
}

/** True when `state` (as sqlStateOf reads it) is in one of `classes`. */
export function inSqlStateClass(state: string | undefined, ...classes: SqlStateClass[]): boolean {
  return state !== undefined && (classes as string[]).includes(sqlStateClassOf(state));
}

/** The SQLSTATE of a server error, whether the pool translated it (PgscopeError.sqlState) or not. */
export function sqlStateOf(error: unknown): string | undefined {
  if (isPgscopeError(error)) return error.sqlState;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
