/**
 * Decides, call by call, which fault of the plan (if any) a request meets, and counts what was injected. Every rule
 * counts its own matching calls and draws from its own generator (seeded by the plan's seed and the rule's place),
 * so a rule's schedule does not shift when other services' calls interleave differently between two runs.
 */
import { checkFaultPlan, type Fault, type FaultPlan, type FaultRule, type FaultService, ruleMatches } from './plan';

export interface FaultCall {
  service: FaultService;
  /** Hub host name, Cosmos container, queue or blob container. */
  target?: string;
  operation: string;
}

export interface InjectedFault extends FaultCall {
  /** The stack's clock when it was injected. */
  at: number;
  /** The rule (counted from 1) and its matching-call number that fired. */
  rule: number;
  call: number;
  fault: Fault;
}

/** mulberry32: a small, well-known 32-bit generator; ample for picking which calls fail. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RuleState {
  rule: FaultRule;
  calls: number;
  draw: () => number;
}

/** "status 429", "resetAfterApply": how a fault is counted. */
export function faultLabel(f: Fault): string {
  return f.kind === 'status' ? `status ${f.status}` : f.kind;
}

const EVENTS_KEPT = 10_000;

export class FaultInjector {
  private rules: RuleState[] = [];
  private setAt = 0;
  private plan: FaultPlan = { rules: [] };
  private readonly seen = new Map<string, number>();
  private readonly injectedByLabel = new Map<string, number>();
  /** The injected faults, oldest first (the last 10,000). */
  readonly events: InjectedFault[] = [];

  constructor(
    plan: FaultPlan,
    private readonly clock: () => number = Date.now,
  ) {
    this.set(plan);
  }

  /** Replaces the plan: call numbers, generators and windows start again from now; counters are kept. */
  set(plan: FaultPlan): void {
    checkFaultPlan(plan);
    const seed = plan.seed ?? 1;
    this.plan = plan;
    this.setAt = this.clock();
    this.rules = plan.rules.map((rule, i) => ({
      rule,
      calls: 0,
      draw: mulberry32(Math.imul(seed, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)),
    }));
  }

  current(): FaultPlan {
    return this.plan;
  }

  /** Forgets what was injected and seen (the plan stays). */
  resetCounts(): void {
    this.seen.clear();
    this.injectedByLabel.clear();
    this.events.length = 0;
  }

  private inWindow(rule: FaultRule, now: number): boolean {
    if (!rule.window) return true;
    const from = this.setAt + (rule.window.afterMs ?? 0);
    return now >= from && now < from + rule.window.forMs;
  }

  /**
   * The fault this call meets, or undefined. Every matching rule counts the call (and draws when it has a
   * probability) whether or not an earlier rule fired; the first rule that fires wins.
   */
  decide(call: FaultCall): Fault | undefined {
    const key = `${call.service} ${call.operation}`;
    this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
    const now = this.clock();
    let chosen: { fault: Fault; rule: number; call: number } | undefined;
    this.rules.forEach((state, i) => {
      const { rule } = state;
      if (!ruleMatches(rule, call) || !this.inWindow(rule, now)) return;
      const n = ++state.calls;
      const fires =
        rule.probability !== undefined ? state.draw() < rule.probability : rule.calls ? rule.calls.includes(n) : true;
      if (fires && !chosen) chosen = { fault: rule.fault, rule: i + 1, call: n };
    });
    if (chosen) this.record({ ...call, ...chosen, at: now });
    return chosen?.fault;
  }

  /**
   * Whether a proxy refuses a new connection: a `down` rule for the whole service (no target, no operation, no
   * probability or call numbers) is in its window. A connection carries no operation yet, so only those apply.
   */
  refuseConnection(service: FaultService): boolean {
    const now = this.clock();
    const i = this.rules.findIndex(
      ({ rule }) =>
        rule.service === service &&
        rule.fault.kind === 'down' &&
        rule.target === undefined &&
        rule.operation === undefined &&
        rule.probability === undefined &&
        rule.calls === undefined &&
        this.inWindow(rule, now),
    );
    if (i < 0) return false;
    this.record({ service, operation: '(connect)', fault: this.rules[i].rule.fault, rule: i + 1, call: 0, at: now });
    return true;
  }

  private record(event: InjectedFault): void {
    const label = `${event.service} ${faultLabel(event.fault)}`;
    this.injectedByLabel.set(label, (this.injectedByLabel.get(label) ?? 0) + 1);
    this.events.push(event);
    if (this.events.length > EVENTS_KEPT) this.events.shift();
  }

  /** Calls seen by a service (every operation, or one), faulted or not. */
  calls(service: FaultService, operation?: string): number {
    let n = 0;
    for (const [key, count] of this.seen) {
      const [s, op] = key.split(' ');
      if (s === service && (operation === undefined || op === operation)) n += count;
    }
    return n;
  }

  /** Faults injected, by "service label" (e.g. `dps resetAfterApply`, `cosmos status 429`), and their total. */
  counts(): { total: number; byService: Record<string, Record<string, number>> } {
    const byService: Record<string, Record<string, number>> = {};
    let total = 0;
    for (const [key, n] of this.injectedByLabel) {
      const [service, ...label] = key.split(' ');
      (byService[service] ??= {})[label.join(' ')] = n;
      total += n;
    }
    return { total, byService };
  }

  /** One line for a test or bench to print: "injected 40 faults: dps 37 resetAfterApply, 3 status 503; …". */
  summary(): string {
    const { total, byService } = this.counts();
    if (total === 0) return 'injected no faults';
    const parts = Object.entries(byService).map(
      ([service, labels]) =>
        `${service} ${Object.entries(labels)
          .map(([label, n]) => `${n} ${label}`)
          .join(', ')}`,
    );
    return `injected ${total} fault${total === 1 ? '' : 's'}: ${parts.join('; ')}`;
  }
}
