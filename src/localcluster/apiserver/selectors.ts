import { badRequest } from './errors.js';
import { isRecord, text, type KubeObject } from './types.js';
import { readDotted } from './jsonpath.js';

interface LabelRequirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

export type LabelSelector = LabelRequirement[];

function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

const keyPattern = /^([a-z0-9A-Z]([\w.-]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([\w.-]*[a-z0-9A-Z])?$/;

function checkKey(key: string, term: string): string {
  if (!keyPattern.test(key))
    throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${term}"`);
  return key;
}

function parseTerm(term: string): LabelRequirement {
  const setMatch = /^([^\s!=]+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
  if (setMatch) {
    const values = (setMatch[3] ?? '')
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return { key: checkKey(setMatch[1] ?? '', term), op: setMatch[2] === 'in' ? 'in' : 'notin', values };
  }
  const eq = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(term);
  if (eq) {
    return { key: checkKey(eq[1] ?? '', term), op: eq[2] === '!=' ? 'notin' : 'in', values: [eq[3] ?? ''] };
  }
  if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim(), term), op: '!exists', values: [] };
  return { key: checkKey(term, term), op: 'exists', values: [] };
}

/** Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k`. */
export function parseLabelSelector(text: string | null | undefined): LabelSelector {
  if (!text) return [];
  return splitTerms(text).map(parseTerm);
}

export function matchesLabels(labels: Record<string, string> | undefined, selector: LabelSelector): boolean {
  return selector.every((req) => {
    const value = labels?.[req.key];
    switch (req.op) {
      case 'exists':
        return value !== undefined;
      case '!exists':
        return value === undefined;
      case 'in':
        return value !== undefined && req.values.includes(value);
      case 'notin':
        return value === undefined || !req.values.includes(value);
    }
  });
}

interface FieldRequirement {
  field: string;
  value: string;
  negate: boolean;
}

export type FieldSelector = FieldRequirement[];

/** Fields a real server lets you select on, beyond metadata.name and metadata.namespace. */
const extraFields: Record<string, string[]> = {
  '/pods': ['status.phase', 'spec.nodeName', 'spec.restartPolicy', 'spec.serviceAccountName', 'status.podIP'],
  '/events': [
    'involvedObject.kind',
    'involvedObject.name',
    'involvedObject.namespace',
    'involvedObject.uid',
    'reason',
    'type',
    'source',
  ],
  'events.k8s.io/events': [
    'regarding.kind',
    'regarding.name',
    'regarding.namespace',
    'regarding.uid',
    'reason',
    'type',
  ],
  '/secrets': ['type'],
  '/namespaces': ['status.phase'],
  'batch/jobs': ['status.successful'],
};

/** Parses `metadata.name=x,metadata.namespace!=y`; unsupported fields are a 400 as on a real server. */
export function parseFieldSelector(text: string | null | undefined, collection: string): FieldSelector {
  if (!text) return [];
  return splitTerms(text).map((term) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    const field = m[1] ?? '';
    const allowed =
      field === 'metadata.name' || field === 'metadata.namespace' || extraFields[collection]?.includes(field);
    if (!allowed) throw badRequest(`field label not supported: ${field}`);
    return { field, value: (m[3] ?? '').trim(), negate: m[2] === '!=' };
  });
}

export function matchesFields(object: KubeObject, selector: FieldSelector): boolean {
  return selector.every((req) => {
    const raw = readDotted(object, req.field);
    const value = text(raw);
    return req.negate ? value !== req.value : value === req.value;
  });
}

/** Renders a metav1.LabelSelector as the string form used in Scale's status.selector. */
export function labelSelectorToString(selector: unknown): string {
  if (!isRecord(selector)) return '';
  const parts: string[] = [];
  const matchLabels = isRecord(selector.matchLabels) ? selector.matchLabels : {};
  for (const key of Object.keys(matchLabels).sort()) parts.push(`${key}=${String(matchLabels[key])}`);
  const expressions = Array.isArray(selector.matchExpressions)
    ? (selector.matchExpressions as unknown[])
    : [];
  for (const expr of expressions) {
    if (!isRecord(expr)) continue;
    const key = String(expr.key);
    const values = Array.isArray(expr.values) ? (expr.values as string[]).join(',') : '';
    const ops: Record<string, string> = {
      In: `${key} in (${values})`,
      NotIn: `${key} notin (${values})`,
      Exists: key,
      DoesNotExist: `!${key}`,
    };
    parts.push(ops[String(expr.operator)] ?? key);
  }
  return parts.join(',');
}
