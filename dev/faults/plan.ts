/**
 * What faults the local stack injects, as a plain JSON document: rules, each naming a service (and optionally a
 * target and operations), when it fires (every call, a probability, exact call numbers, a time window) and what it
 * does on the wire. The same document is read from `LOCAL_FAULTS_FILE` by `npm start` and passed by tests.
 */
import { readFileSync } from 'node:fs';

export const FAULT_SERVICES = ['dps', 'iothub', 'cosmos', 'storage'] as const;
export type FaultService = (typeof FAULT_SERVICES)[number];

export type Fault =
  /** An error answer in the service's own shape; `retryAfterMs` becomes `Retry-After` (whole seconds, rounded up),
   * or `x-ms-retry-after-ms` for Cosmos. `code` overrides the service's error code. Nothing is applied. */
  | { kind: 'status'; status: number; retryAfterMs?: number; code?: string | number }
  /** The connection is destroyed when the request arrives: nothing is applied, no answer. */
  | { kind: 'resetBeforeApply' }
  /** The request is applied, then the connection is destroyed instead of answering: the answer is lost. */
  | { kind: 'resetAfterApply' }
  /** The request waits `ms` (wall time) before it reaches the service. */
  | { kind: 'latency'; ms: number }
  /** No answer at all until the client gives up; `afterApply`: the request is applied first. `afterBytes`: applied,
   * and its answer starts — the headers and the first `afterBytes` bytes of the body — then stops (a read cut short). */
  | { kind: 'stall'; afterApply?: boolean; afterBytes?: number }
  /** The service (or target) is unreachable: connections refused where the proxy sees them, requests reset. */
  | { kind: 'down' };

export type FaultKind = Fault['kind'];
const KINDS: FaultKind[] = ['status', 'resetBeforeApply', 'resetAfterApply', 'latency', 'stall', 'down'];

export interface FaultRule {
  service: FaultService;
  /** iothub: hub host names; cosmos: container names; storage: queue or blob container names. Absent: all. */
  target?: string | string[];
  /** Operation names (README, "Faults on demand"), e.g. `bulkEnrollments`, `bulkDevices`, `read`, `sendMessage`. */
  operation?: string | string[];
  /** Fires on each matching call with this probability, drawn from the plan's seeded generator. */
  probability?: number;
  /** Fires on exactly these matching calls, counted from 1 ("the 3rd and 7th call": [3, 7]). */
  calls?: number[];
  /** Matches only inside this window of the stack's clock, counted from when the plan was set. */
  window?: { afterMs?: number; forMs: number };
  fault: Fault;
}

export interface FaultPlan {
  /** One seed, one schedule: the same plan and seed fire on the same call numbers. Default 1. */
  seed?: number;
  rules: FaultRule[];
}

export const NO_FAULTS: FaultPlan = { rules: [] };

const list = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

function fail(where: string, what: string): never {
  throw new Error(`fault plan: ${where}: ${what}`);
}

function checkFault(where: string, f: Fault | undefined): void {
  if (!f || !KINDS.includes(f.kind)) fail(where, `fault.kind must be one of ${KINDS.join(', ')}`);
  if (f.kind === 'status' && !(Number.isInteger(f.status) && f.status >= 400 && f.status <= 599))
    fail(where, 'fault.status must be an HTTP error status (400-599)');
  if (f.kind === 'status' && f.retryAfterMs !== undefined && !(f.retryAfterMs >= 0))
    fail(where, 'fault.retryAfterMs must be >= 0');
  if (f.kind === 'latency' && !(f.ms >= 0)) fail(where, 'fault.ms must be >= 0');
  if (f.kind === 'stall' && f.afterBytes !== undefined && !(Number.isInteger(f.afterBytes) && f.afterBytes >= 0))
    fail(where, 'fault.afterBytes must be a whole number of bytes >= 0');
}

/** Checks a plan (from JSON or code) and answers it unchanged; throws naming the first rule that is wrong. */
export function checkFaultPlan(plan: FaultPlan): FaultPlan {
  if (!plan || !Array.isArray(plan.rules)) fail('plan', 'rules must be an array');
  if (plan.seed !== undefined && !Number.isInteger(plan.seed)) fail('plan', 'seed must be an integer');
  plan.rules.forEach((r, i) => {
    const where = `rule ${i + 1}`;
    if (!FAULT_SERVICES.includes(r.service)) fail(where, `service must be one of ${FAULT_SERVICES.join(', ')}`);
    if (r.probability !== undefined && r.calls !== undefined) fail(where, 'give probability or calls, not both');
    if (r.probability !== undefined && !(r.probability >= 0 && r.probability <= 1))
      fail(where, 'probability must be within 0..1');
    if (r.calls !== undefined && !r.calls.every((n) => Number.isInteger(n) && n >= 1))
      fail(where, 'calls must be call numbers counted from 1');
    if (r.window !== undefined && !(r.window.forMs > 0 && (r.window.afterMs ?? 0) >= 0))
      fail(where, 'window needs forMs > 0 and afterMs >= 0');
    checkFault(where, r.fault);
  });
  return plan;
}

/** The plan in a JSON file (`LOCAL_FAULTS_FILE`). */
export function loadFaultPlan(file: string): FaultPlan {
  return checkFaultPlan(JSON.parse(readFileSync(file, 'utf8')) as FaultPlan);
}

/** Whether a rule is about this call (service, target, operation), leaving out when it fires. */
export function ruleMatches(rule: FaultRule, call: { service: FaultService; target?: string; operation: string }) {
  if (rule.service !== call.service) return false;
  const targets = list(rule.target)?.map((t) => t.toLowerCase());
  if (targets && !targets.includes((call.target ?? '').toLowerCase())) return false;
  const operations = list(rule.operation);
  return !operations || operations.includes(call.operation);
}
