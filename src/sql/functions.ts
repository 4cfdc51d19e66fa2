import type { FuncCall } from 'libpg-query';
import { nameParts } from './tree.js';

// Built-in functions that only compute a value: a query calling them still does only what its SQL says.
const pureFunctions = new Set([
  // aggregates and window functions
  ...['count', 'sum', 'avg', 'min', 'max', 'bool_and', 'bool_or', 'every', 'array_agg', 'string_agg'],
  ...['json_agg', 'jsonb_agg', 'json_object_agg', 'jsonb_object_agg', 'row_number', 'rank', 'dense_rank'],
  ...['lag', 'lead', 'first_value', 'last_value', 'ntile', 'percent_rank', 'cume_dist'],
  // time
  ...['now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp', 'date_trunc', 'date_part'],
  ...['extract', 'to_char', 'to_date', 'to_timestamp', 'to_number', 'age', 'make_date', 'make_interval'],
  ...['make_timestamp', 'make_timestamptz', 'timezone'],
  // text
  ...['lower', 'upper', 'initcap', 'length', 'char_length', 'octet_length', 'concat', 'concat_ws', 'format'],
  ...['substring', 'substr', 'replace', 'translate', 'trim', 'btrim', 'ltrim', 'rtrim', 'left', 'right'],
  ...['lpad', 'rpad', 'split_part', 'position', 'strpos', 'starts_with', 'repeat', 'reverse', 'md5'],
  ...['encode', 'decode', 'quote_ident', 'quote_literal', 'quote_nullable', 'regexp_replace', 'regexp_match'],
  ...[
    'regexp_matches',
    'regexp_split_to_array',
    'regexp_split_to_table',
    'string_to_array',
    'array_to_string',
  ],
  // numbers, arrays, sets
  ...['abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'mod', 'power', 'sqrt', 'random', 'width_bucket'],
  ...['array_length', 'cardinality', 'array_append', 'array_prepend', 'array_cat', 'array_remove'],
  ...['array_position', 'unnest', 'generate_series', 'generate_subscripts'],
  // json
  ...['to_json', 'to_jsonb', 'row_to_json', 'array_to_json', 'json_build_object', 'jsonb_build_object'],
  ...[
    'json_build_array',
    'jsonb_build_array',
    'jsonb_set',
    'jsonb_insert',
    'jsonb_strip_nulls',
    'jsonb_typeof',
  ],
  ...['json_extract_path', 'jsonb_extract_path', 'json_extract_path_text', 'jsonb_extract_path_text'],
  ...['json_array_elements', 'jsonb_array_elements', 'json_each', 'jsonb_each', 'jsonb_object_keys'],
  ...['jsonb_array_length', 'json_array_length'],
  // identifiers, sequences, settings, locks: change no table data
  ...['gen_random_uuid', 'uuid_generate_v4', 'uuid_generate_v1', 'uuidv4', 'uuidv7', 'nextval', 'currval'],
  ...['setval', 'lastval', 'current_setting', 'set_config', 'pg_advisory_lock', 'pg_advisory_xact_lock'],
  ...['pg_try_advisory_lock', 'pg_try_advisory_xact_lock', 'pg_advisory_unlock', 'to_regclass', 'to_regtype'],
  ...['format_type', 'pg_get_serial_sequence', 'pg_typeof', 'current_database', 'current_schema', 'version'],
  ...['has_table_privilege', 'has_schema_privilege', 'obj_description', 'col_description', 'txid_current'],
]);

/** Whether a call is a known built-in without side effects (unqualified or pg_catalog-qualified). */
export function isPureFunctionCall(call: FuncCall): boolean {
  const parts = nameParts(call.funcname);
  const name = parts.at(-1);
  const schema = parts.length > 1 ? parts.at(-2) : 'pg_catalog';
  return name !== undefined && schema === 'pg_catalog' && pureFunctions.has(name);
}

export function functionDisplayName(call: FuncCall): string {
  return nameParts(call.funcname).join('.');
}
