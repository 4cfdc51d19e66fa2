import { describe, expect, it } from '@jest/globals';
import { parseDuration } from './duration.js';
import { redact, secretsOf } from './redact.js';

describe('redact', () => {
  it('hides the URL, its password (raw and decoded) and any other postgres URL with a password', () => {
    const url = 'postgres://app:p%40ss-w0rd@db:5432/orders';
    const text = `connect ${url} failed; password p@ss-w0rd; other postgresql://x:hunter2@h/db`;
    const out = redact(text, secretsOf(url));
    expect(out).not.toContain('p@ss-w0rd');
    expect(out).not.toContain('p%40ss-w0rd');
    expect(out).not.toContain('hunter2');
    expect(out).toContain('[redacted]');
  });
});

describe('parseDuration', () => {
  it('reads Kubernetes-style durations and refuses the rest', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(() => parseDuration('5')).toThrow('not a duration');
    expect(() => parseDuration('5x')).toThrow('not a duration');
  });
});
