/**
 * The faults `bench:faults` sends every dependency: `rate` of the calls to DPS, the hubs, Cosmos and Storage fail,
 * spread evenly over the ways each fails in Azure (statuses with and without Retry-After, the connection reset
 * before and after the request was applied, and for DPS and the hubs a call that never answers, before or after it
 * was applied), and as many again are slowed. A stall ends at our adapter's deadline (shared/azure/deadline-http.ts),
 * which the bench scales with the rest (`IOT_DEADLINE_MS`, faults.ts). Cosmos and Storage get no stalls here: their
 * deadlines (the Cosmos SDK's 60 s, StorageCalls' 30 s) are not settings, so a stall would measure an unscaled wait.
 */
import type { Fault, FaultPlan, FaultRule, FaultService } from '../../dev/faults/plan';

const WAYS: Record<FaultService, Fault[]> = {
  dps: [
    { kind: 'status', status: 503 },
    { kind: 'status', status: 500 },
    { kind: 'status', status: 429, retryAfterMs: 1000 },
    { kind: 'resetBeforeApply' },
    { kind: 'resetAfterApply' },
    { kind: 'stall' },
    { kind: 'stall', afterApply: true },
  ],
  iothub: [
    { kind: 'status', status: 503 },
    { kind: 'status', status: 500 },
    { kind: 'status', status: 429, retryAfterMs: 1000 },
    { kind: 'resetBeforeApply' },
    { kind: 'resetAfterApply' },
    { kind: 'stall' },
    { kind: 'stall', afterApply: true },
  ],
  cosmos: [
    { kind: 'status', status: 429, retryAfterMs: 100 },
    { kind: 'status', status: 449 },
    { kind: 'status', status: 503 },
    { kind: 'status', status: 408 },
    { kind: 'resetAfterApply' },
  ],
  storage: [
    { kind: 'status', status: 503 },
    { kind: 'status', status: 500 },
    { kind: 'resetBeforeApply' },
    { kind: 'resetAfterApply' },
    { kind: 'status', status: 408 },
  ],
};

/**
 * Cosmos calls a client makes once, at its start (account, containers, partition ranges): failing those measures the
 * SDK's start-up, not what the backend does with data, so the mix fails data operations only.
 */
const COSMOS_DATA = ['read', 'create', 'upsert', 'replace', 'delete', 'patch', 'query', 'batch', 'bulk', 'readAll'];

/** One rule per way, each firing on `rate / ways` of the calls (the first that fires wins: the total is ≈ rate). */
export function faultMix(rate: number, seed: number, extra: FaultRule[] = []): FaultPlan {
  const rules: FaultRule[] = [...extra];
  for (const [service, ways] of Object.entries(WAYS) as Array<[FaultService, Fault[]]>) {
    const operation = service === 'cosmos' ? COSMOS_DATA : undefined;
    for (const fault of ways)
      rules.push({ service, ...(operation ? { operation } : {}), probability: rate / ways.length, fault });
    rules.push({ service, ...(operation ? { operation } : {}), probability: rate, fault: { kind: 'latency', ms: 50 } });
  }
  return { seed, rules };
}
