import { reasonForCode } from '../../kube/status-reasons.js';
import { ApiError } from './errors.js';

/** Fail the next `count` requests whose path starts with `path` (and whose method matches, if given). */
export interface FailRule {
  path: string;
  status: number;
  count?: number;
  method?: string;
  message?: string;
}

/** Delay responses to matching requests by `ms`; `count` limits how many (all when absent). */
export interface DelayRule {
  ms: number;
  path?: string;
  method?: string;
  count?: number;
}

/** The fault injection control surface of a running local cluster. */
export interface FaultInjector {
  /** Ends every open watch stream, as a dropped connection or an apiserver restart would. Returns how many. */
  cutWatches(): number;
  /** Makes every resourceVersion handed out so far too old: the next watch from one gets 410 Expired. */
  expireResourceVersions(): void;
  /** Answers the next matching requests with an error Status. */
  failNext(rule: FailRule): void;
  /** Holds matching responses back. */
  delay(rule: DelayRule): void;
  /** Removes every pending failure and delay. */
  clear(): void;
}

interface Pending<T> {
  rule: T;
  remaining: number;
}

function matches(rule: { path?: string; method?: string }, method: string, path: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) return false;
  return rule.path === undefined || path.startsWith(rule.path);
}

/** Holds the injected failures and delays; the server consults it before every API request. */
export class FaultPlan {
  private failures: Pending<FailRule>[] = [];
  private delays: Pending<DelayRule>[] = [];

  addFailure(rule: FailRule): void {
    if (!Number.isInteger(rule.status) || rule.status < 400 || rule.status > 599) {
      throw new Error(`a failure status must be an HTTP error code, got ${rule.status}`);
    }
    this.failures.push({ rule, remaining: rule.count ?? 1 });
  }

  addDelay(rule: DelayRule): void {
    if (!(rule.ms >= 0)) throw new Error(`a delay needs ms >= 0, got ${rule.ms}`);
    this.delays.push({ rule, remaining: rule.count ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.failures = [];
    this.delays = [];
  }

  /** What to do with one request: how long to wait first, and whether to fail it. */
  take(method: string, path: string): { delayMs: number; error?: ApiError } {
    let delayMs = 0;
    const delay = this.delays.find((d) => matches(d.rule, method, path));
    if (delay) {
      delayMs = delay.rule.ms;
      delay.remaining -= 1;
      if (delay.remaining <= 0) this.delays = this.delays.filter((d) => d !== delay);
    }
    const failure = this.failures.find((f) => matches(f.rule, method, path));
    if (!failure) return { delayMs };
    failure.remaining -= 1;
    if (failure.remaining <= 0) this.failures = this.failures.filter((f) => f !== failure);
    const { status } = failure.rule;
    const message = failure.rule.message ?? `injected failure (${status}) for ${method} ${path}`;
    return { delayMs, error: new ApiError(status, reasonForCode(status), message) };
  }
}
