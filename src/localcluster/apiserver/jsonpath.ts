import { isRecord } from './types.js';

type Step =
  { field: string } | { index: number } | { filter: { key: string[]; value: string } } | { all: true };

const filterPattern = /^\?\(@\.([\w.-]+)\s*==\s*(?:"([^"]*)"|'([^']*)')\)$/;

function bracketStep(inner: string): Step {
  if (inner === '*') return { all: true };
  if (/^-?\d+$/.test(inner)) return { index: Number(inner) };
  const m = filterPattern.exec(inner);
  if (m) return { filter: { key: (m[1] ?? '').split('.'), value: m[2] ?? m[3] ?? '' } };
  const quoted = /^['"](.*)['"]$/.exec(inner);
  if (quoted) return { field: quoted[1] ?? '' };
  throw new Error(`unsupported JSONPath step [${inner}]`);
}

/** Parses the JSONPath subset printer columns and scale paths use: `.a.b`, `[0]`, `[*]`, `[?(@.k=="v")]`. */
export function parseJsonPath(path: string): Step[] {
  const text = path
    .trim()
    .replace(/^\{(.*)\}$/, '$1')
    .replace(/^\$/, '');
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '.') {
      const m = /^\.([^.[]*)/.exec(text.slice(i));
      const name = m?.[1] ?? '';
      if (name !== '') steps.push(name === '*' ? { all: true } : { field: name });
      i += 1 + name.length;
    } else if (ch === '[') {
      const end = text.indexOf(']', i);
      if (end < 0) throw new Error(`unterminated [ in JSONPath ${path}`);
      steps.push(bracketStep(text.slice(i + 1, end)));
      i = end + 1;
    } else {
      throw new Error(`unexpected ${ch} in JSONPath ${path}`);
    }
  }
  return steps;
}

function getPath(value: unknown, keys: string[]): unknown {
  let current = value;
  for (const key of keys) current = isRecord(current) ? current[key] : undefined;
  return current;
}

function applyStep(values: unknown[], step: Step): unknown[] {
  const out: unknown[] = [];
  for (const value of values) {
    if ('field' in step) {
      if (isRecord(value) && value[step.field] !== undefined) out.push(value[step.field]);
    } else if ('index' in step) {
      if (Array.isArray(value)) {
        const item: unknown = value[step.index < 0 ? value.length + step.index : step.index];
        if (item !== undefined) out.push(item);
      }
    } else if ('all' in step) {
      if (Array.isArray(value)) out.push(...(value as unknown[]));
      else if (isRecord(value)) out.push(...Object.values(value));
    } else if (Array.isArray(value)) {
      for (const item of value as unknown[]) {
        if (String(getPath(item, step.filter.key)) === step.filter.value) out.push(item);
      }
    }
  }
  return out;
}

/** Every value the path selects in the object. */
export function evaluateJsonPath(object: unknown, path: string): unknown[] {
  let values: unknown[] = [object];
  for (const step of parseJsonPath(path)) values = applyStep(values, step);
  return values;
}

/** Reads a plain dotted path such as `.spec.replicas`. */
export function readDotted(object: unknown, path: string): unknown {
  return getPath(object, path.replace(/^\./, '').split('.'));
}

/** Writes a plain dotted path such as `.spec.replicas`, creating objects on the way. */
export function writeDotted(object: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.replace(/^\./, '').split('.');
  const last = keys.pop();
  if (last === undefined) return;
  let current = object;
  for (const key of keys) {
    const next = current[key];
    if (!isRecord(next)) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  current[last] = value;
}
