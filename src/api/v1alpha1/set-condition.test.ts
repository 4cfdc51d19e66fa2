import { describe, expect, it } from '@jest/globals';
import { ConditionType, Reason } from './conditions.js';
import { MESSAGE_LIMIT } from './status.js';
import {
  boundMessage,
  findCondition,
  isConditionTrue,
  kubeTimestamp,
  removeCondition,
  setCondition,
} from './set-condition.js';

const t0 = new Date('2026-11-21T12:00:00.123Z');
const t1 = new Date('2026-11-21T12:05:00.000Z');

const reconciling = {
  type: ConditionType.Reconciling,
  status: 'True',
  reason: Reason.ScalingDown,
  message: 'scaling orders-api to 0',
} as const;

describe('setCondition', () => {
  it('adds a condition with the generation and a whole-second transition time', () => {
    const conditions = setCondition(undefined, reconciling, 3, t0);
    expect(conditions).toEqual([
      { ...reconciling, observedGeneration: 3, lastTransitionTime: '2026-11-21T12:00:00Z' },
    ]);
  });

  it('keeps lastTransitionTime when the status stays, while reason, message and generation follow', () => {
    const before = setCondition(undefined, reconciling, 3, t0);
    const after = setCondition(
      before,
      { ...reconciling, reason: Reason.BackingUp, message: 'backing up' },
      4,
      t1,
    );
    expect(after).toEqual([
      {
        ...reconciling,
        reason: Reason.BackingUp,
        message: 'backing up',
        observedGeneration: 4,
        lastTransitionTime: '2026-11-21T12:00:00Z',
      },
    ]);
  });

  it('moves lastTransitionTime when the status changes', () => {
    const before = setCondition(undefined, reconciling, 3, t0);
    const after = setCondition(
      before,
      { ...reconciling, status: 'False', reason: Reason.AtTargetRevision },
      3,
      t1,
    );
    expect(after[0]!.lastTransitionTime).toBe('2026-11-21T12:05:00Z');
    expect(after[0]!.status).toBe('False');
  });

  it('replaces in place, leaves the other conditions alone and does not mutate its input', () => {
    const ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason: Reason.Progressing,
      message: '',
    } as const;
    const before = setCondition(setCondition(undefined, ready, 1, t0), reconciling, 1, t0);
    const frozen = structuredClone(before);
    const after = setCondition(before, { ...ready, status: 'True', reason: Reason.AtTargetRevision }, 1, t1);
    expect(before).toEqual(frozen);
    expect(after.map((c) => c.type)).toEqual([ConditionType.Ready, ConditionType.Reconciling]);
    expect(after[1]).toBe(before[1]);
    expect(isConditionTrue(after, ConditionType.Ready)).toBe(true);
    expect(findCondition(after, ConditionType.Stalled)).toBeUndefined();
    expect(removeCondition(after, ConditionType.Ready).map((c) => c.type)).toEqual([
      ConditionType.Reconciling,
    ]);
  });

  it('formats metav1.Time in UTC without fractions', () => {
    expect(kubeTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 999)))).toBe('2026-01-02T03:04:05Z');
  });
});

describe('boundMessage', () => {
  it('cuts a message over the limit and says how much was cut', () => {
    const long = 'x'.repeat(40_000);
    const cut = boundMessage(long, 100);
    expect(cut).toHaveLength(100);
    expect(cut).toMatch(/more characters cut\)$/);
    expect(boundMessage('short', 100)).toBe('short');
  });

  it('is applied by setCondition: a condition message never exceeds the limit', () => {
    const [condition] = setCondition(undefined, { ...reconciling, message: 'y'.repeat(40_000) }, 1, t0);
    expect(condition?.message.length).toBe(MESSAGE_LIMIT);
  });
});
