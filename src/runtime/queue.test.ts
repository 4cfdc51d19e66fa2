import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { WorkQueue, type WorkResult } from './queue.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A queue whose handler counts its runs and how many overlap, and holds the first run until `gate` opens. */
function firstRunHeld(concurrency: number) {
  const gate = deferred();
  const counts = { running: 0, maxRunning: 0, runs: 0 };
  const queue = new WorkQueue(
    async () => {
      counts.running++;
      counts.runs++;
      counts.maxRunning = Math.max(counts.maxRunning, counts.running);
      if (counts.runs === 1) await gate.promise;
      counts.running--;
      return {};
    },
    { concurrency, backoffMinMs: 10, backoffMaxMs: 100 },
  );
  return { queue, gate, counts };
}

describe('WorkQueue', () => {
  it('never works on one key twice at once and coalesces adds made meanwhile into one more run', async () => {
    const { queue, gate, counts } = firstRunHeld(4);
    queue.add('shop/orders');
    await until(() => counts.runs === 1);
    for (let i = 0; i < 5; i++) queue.add('shop/orders');
    gate.resolve();
    await until(() => counts.runs === 2 && counts.running === 0);
    expect(counts.maxRunning).toBe(1);
    await queue.stop();
    expect(counts.runs).toBe(2);
  });

  it('works on different keys in parallel up to the concurrency', async () => {
    const gate = deferred();
    let running = 0;
    let maxRunning = 0;
    const queue = new WorkQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate.promise;
        running--;
        return {};
      },
      { concurrency: 2, backoffMinMs: 10, backoffMaxMs: 100 },
    );
    ['a/1', 'a/2', 'a/3'].forEach((k) => queue.add(k));
    await until(() => running === 2);
    expect(queue.depth).toBe(1);
    gate.resolve();
    await until(() => running === 0 && queue.depth === 0);
    expect(maxRunning).toBe(2);
    await queue.stop();
  });

  it('retries a failing key with growing backoff and honours requeueAfter', async () => {
    const delays: number[] = [];
    let calls = 0;
    const queue = new WorkQueue(
      () => {
        calls++;
        if (calls <= 3) return Promise.reject(new Error('boom'));
        return Promise.resolve(calls === 4 ? { requeueAfterMs: 20 } : {});
      },
      {
        concurrency: 1,
        backoffMinMs: 10,
        backoffMaxMs: 25,
        onError: (_k, _e, retryInMs) => delays.push(retryInMs),
      },
    );
    queue.add('shop/orders');
    await until(() => calls === 5);
    expect(delays).toEqual([10, 20, 25]);
    await queue.stop();
  });
});

describe('WorkQueue lanes', () => {
  it('works on event keys before a resync backlog, and promotes a waiting resync key an event names', async () => {
    const gate = deferred();
    const seen: string[] = [];
    const queue = new WorkQueue(
      async (key) => {
        seen.push(key);
        if (key === 'busy/0') await gate.promise;
        return {};
      },
      { concurrency: 1, backoffMinMs: 10, backoffMaxMs: 100 },
    );
    queue.add('busy/0');
    await until(() => seen.length === 1);
    ['r/1', 'r/2', 'r/3'].forEach((k) => queue.add(k, 0, 'low'));
    queue.add('e/1');
    queue.add('r/3');
    gate.resolve();
    await until(() => seen.length === 5);
    expect(seen).toEqual(['busy/0', 'e/1', 'r/3', 'r/1', 'r/2']);
    await queue.stop();
  });
});

describe('WorkQueue delayed adds', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('runs a 200 ms requeue after 200 ms although a 3.5 s backoff is pending for the key', async () => {
    const runs: number[] = [];
    const started = Date.now();
    const results: (() => Promise<WorkResult>)[] = [
      () => Promise.reject(new Error('database unreachable')),
      () => Promise.resolve({ requeueAfterMs: 200 }),
      () => Promise.resolve({}),
    ];
    const queue = new WorkQueue(
      () => {
        runs.push(Date.now() - started);
        return results[runs.length - 1]!();
      },
      { concurrency: 1, backoffMinMs: 3_500, backoffMaxMs: 300_000 },
    );
    queue.add('shop/orders');
    await jest.advanceTimersByTimeAsync(0);
    expect(runs).toEqual([0]); // failed: a 3.5 s backoff is pending
    await jest.advanceTimersByTimeAsync(1_000);
    queue.add('shop/orders'); // an event: runs at once and asks to be looked at again in 200 ms
    await jest.advanceTimersByTimeAsync(200);
    expect(runs).toEqual([0, 1_000, 1_200]);
    await queue.stop();
  });

  it('keeps a sooner pending add when a later one comes', async () => {
    const runs: number[] = [];
    const started = Date.now();
    const queue = new WorkQueue(
      () => {
        runs.push(Date.now() - started);
        return Promise.resolve({});
      },
      { concurrency: 1, backoffMinMs: 10, backoffMaxMs: 100 },
    );
    queue.add('shop/orders', 200);
    queue.add('shop/orders', 5_000);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(runs).toEqual([200]);
    await queue.stop();
  });

  it('still runs a key once at a time when its delayed add comes due while it runs', async () => {
    const { queue, gate, counts } = firstRunHeld(2);
    queue.add('shop/orders');
    queue.add('shop/orders', 100);
    queue.add('shop/orders', 50);
    await jest.advanceTimersByTimeAsync(200);
    expect(counts.runs).toBe(1);
    gate.resolve();
    await jest.advanceTimersByTimeAsync(0);
    expect(counts.runs).toBe(2);
    expect(counts.maxRunning).toBe(1);
    await queue.stop();
  });
});
