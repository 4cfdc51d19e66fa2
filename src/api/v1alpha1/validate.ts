import { z } from 'zod';
import { specSchema, type SchemaMigrationSpec } from './spec.js';

export type SpecValidation =
  | { readonly ok: true; readonly spec: SchemaMigrationSpec }
  | { readonly ok: false; readonly errors: readonly string[] };

/** `spec.migrations.configMaps[0].name`: the path as kubectl and the API server print it. */
export function fieldPath(root: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : `${out}.${String(key)}`),
    root,
  );
}

function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  return issue.code === 'invalid_type' && issue.input === undefined ? 'Required value' : undefined;
}

/** Parses a SchemaMigration spec, filling in defaults, or lists what is wrong, one field per line. */
export function validateSpec(input: unknown): SpecValidation {
  const result = specSchema.safeParse(input, { error: issueMessage });
  if (result.success) return { ok: true, spec: result.data };
  const errors = result.error.issues.map((issue) => `${fieldPath('spec', issue.path)}: ${issue.message}`);
  return { ok: false, errors };
}
