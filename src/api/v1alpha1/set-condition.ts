import type { ConditionStatus } from './conditions.js';
import { MESSAGE_LIMIT, type Condition } from './status.js';

/** What a step decides about one condition; the setter adds the bookkeeping. */
export interface ConditionChange {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
}

/** metav1.Time: RFC 3339 in UTC, whole seconds. */
export function kubeTimestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A message cut to `limit` characters, saying how much was cut: a long refusal never breaks a status write. */
export function boundMessage(message: string, limit = MESSAGE_LIMIT): string {
  if (message.length <= limit) return message;
  const note = ` … (${message.length - limit} more characters cut)`;
  return `${message.slice(0, limit - note.length)}${note}`;
}

/**
 * Sets one condition, returning a new list. lastTransitionTime moves only when the status changes,
 * as metav1.Condition defines it; reason, message and observedGeneration always follow the change.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  change: ConditionChange,
  observedGeneration: number,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const previous = list.find((c) => c.type === change.type);
  const lastTransitionTime =
    previous !== undefined && previous.status === change.status
      ? previous.lastTransitionTime
      : kubeTimestamp(now);
  const next: Condition = {
    ...change,
    message: boundMessage(change.message),
    observedGeneration,
    lastTransitionTime,
  };
  if (previous === undefined) return [...list, next];
  return list.map((c) => (c === previous ? next : c));
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
