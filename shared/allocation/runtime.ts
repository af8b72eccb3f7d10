/**
 * The allocation webhook's state, kept in memory: the compiled policy, the deny-list snapshot and the hub-load
 * snapshot, each refreshed in the background (timers, never on a request), plus the decision-event buffer.
 * A request only parses, decides from memory and queues an event.
 */
import { EventBuffer } from '../events/event-buffer';
import { type Clock, type EventsPort, type MetricsPort, systemClock } from '../ports';
import { parseAllocationRequest } from './rules/contract';
import { AllocationCounters, type HourCounts } from './rules/counters';
import {
  type DenyEntry,
  type DenyIdentity,
  type DenyListFeed,
  type DenySnapshot,
  snapshotOf,
  withChanges,
} from './rules/deny-list';
import { decide, type Outcome } from './rules/engine';
import { type HttpOutcome, httpOutcome } from './rules/http-outcome';
import { type CompiledPolicy, compilePolicy } from './rules/policy';

export interface AllocationSources {
  /** The policy document and a version (mtime, etag) to skip unchanged reloads; undefined when none is configured. */
  loadPolicy(): Promise<{ doc: unknown; version: string } | undefined>;
  denyList(): Promise<DenyListFeed>;
  loadHubLoad(): Promise<Map<string, number>>;
  events(): Promise<EventsPort>;
  /** Stores this instance's counts of the given hours beside every other instance's. */
  saveDecisions?(hours: HourCounts[]): Promise<void>;
}

export interface RuntimeOptions {
  clock?: Clock;
  /** How often the deny list's change log is read: a new entry reaches every instance within about this long. */
  denyRefreshMs?: number;
  /** Past this long without a successful refresh, the log may have expired records this instance never read. */
  denyFullReloadAfterMs?: number;
  policyRefreshMs?: number;
  hubLoadRefreshMs?: number;
  hubLoadFirstDelayMs?: number;
  /** How often this instance's decision counts are written for the console (at most a minute behind). */
  decisionsFlushMs?: number;
  /** How long a request on a cold instance may wait for the first snapshots before answering 503. */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
  /** Every decision, for Azure Monitor. */
  metrics?: MetricsPort;
  /** Told of every device certificate of an allocated registration, after the answer is made; must not block. */
  onDeviceCertificate?: (x509: Record<string, unknown>, registrationId: string, hub: string) => void;
}

export interface RuntimeState {
  policy: CompiledPolicy | undefined;
  policyProblem: string | undefined;
  hubLoad: Map<string, number>;
  denyEntries: number;
  denyRefreshedAt: string | undefined;
}

export type { HttpOutcome } from './rules/http-outcome';

export class AllocationRuntime {
  private policy: CompiledPolicy | undefined;
  private policyVersion: string | undefined;
  private policyProblem: string | undefined;
  private deny: DenySnapshot = snapshotOf([], 0);
  /** The deny list's log position this snapshot is complete up to; undefined until the first full load. */
  private denyPosition: number | undefined;
  private denyRecheck: DenyIdentity[] = [];
  private denyRefreshing: Promise<void> | undefined;
  private warnedUnreadable = false;
  private hubLoad = new Map<string, number>();
  private readonly counters = new AllocationCounters();
  private ready: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  readonly events: EventBuffer;

  constructor(
    private readonly sources: AllocationSources,
    private readonly options: RuntimeOptions = {},
  ) {
    this.now = () => (options.clock ?? systemClock).now().getTime();
    this.log = options.log ?? (() => undefined);
    this.events = new EventBuffer(() => sources.events(), {
      capacity: 10_000,
      batchSize: 200,
      flushIntervalMs: 1000,
      log: this.log,
    });
  }

  /** Starts the first loads and the refresh timers; idempotent. */
  start(): Promise<void> {
    if (!this.ready) {
      this.ready = Promise.all([this.refreshPolicy(), this.refreshDenyList()]).then(() => undefined);
      // Hub load a second after the first snapshots: loading the IoT Hub SDK blocks the event loop for ~75 ms, which
      // the first registrations of a cold instance should not wait for (capacity rules have no figures until then).
      void this.ready.then(() =>
        this.timers.push(
          setTimeout(() => void this.refreshHubLoad(), this.options.hubLoadFirstDelayMs ?? 1000).unref(),
        ),
      );
      const every = (ms: number, f: () => Promise<void>) => this.timers.push(setInterval(() => void f(), ms).unref());
      every(this.options.policyRefreshMs ?? 5000, () => this.refreshPolicy());
      every(this.options.denyRefreshMs ?? 1000, () => this.refreshDenyList());
      every(this.options.hubLoadRefreshMs ?? 60_000, () => this.refreshHubLoad());
      every(this.options.decisionsFlushMs ?? 60_000, () => this.flushDecisions());
    }
    return this.ready;
  }

  async stop(): Promise<void> {
    this.timers.forEach(clearTimeout); // clears intervals too
    this.timers = [];
    await this.flushDecisions();
    return this.events.flush();
  }

  /** Writes this instance's changed hours of decisions where every instance's are summed (the console's). */
  async flushDecisions(): Promise<void> {
    const changed = this.counters.takeChanged();
    if (!changed.length || !this.sources.saveDecisions) return;
    try {
      await this.sources.saveDecisions(changed);
    } catch (err) {
      this.log(`decision counts not saved: ${String(err)}`);
    }
  }

  async refreshPolicy(): Promise<void> {
    try {
      const loaded = await this.sources.loadPolicy();
      if (!loaded) {
        this.policy = undefined;
        this.policyVersion = undefined;
        this.policyProblem = undefined;
        return;
      }
      if (loaded.version === this.policyVersion) return;
      this.policy = compilePolicy(loaded.doc);
      this.policyVersion = loaded.version;
      this.policyProblem = undefined;
      this.log(`allocation policy ${this.policy.id} loaded (${this.policy.rules.length} rules)`);
    } catch (err) {
      // Keep the last good policy; with none, refuse to guess (503) rather than allocate by the wrong rules.
      this.policyProblem = (err as Error).message;
      this.log(`allocation policy not (re)loaded: ${this.policyProblem}`);
    }
  }

  /** One refresh at a time: a tick that finds one running waits for it instead of starting another. */
  refreshDenyList(): Promise<void> {
    this.denyRefreshing ??= this.syncDenyList().finally(() => (this.denyRefreshing = undefined));
    return this.denyRefreshing;
  }

  private async syncDenyList(): Promise<void> {
    const started = this.now();
    try {
      const feed = await this.sources.denyList();
      const stale = started - this.deny.refreshedAt > (this.options.denyFullReloadAfterMs ?? 24 * 3600_000);
      const changes =
        this.denyPosition === undefined || stale ? 'gap' : await feed.changesSince(this.denyPosition, this.denyRecheck);
      if (changes === 'gap') {
        const { entries, position } = await feed.loadAll();
        // Entries pushed while the load ran are kept: the load may have read the store before they were written.
        const pushed = [...this.deny.entries.values()].filter(
          (e) => e.createdAt && Date.parse(e.createdAt) >= started - 60_000,
        );
        this.deny = snapshotOf([...entries, ...pushed], started);
        this.denyPosition = position;
        this.denyRecheck = [];
        return;
      }
      this.deny = withChanges(this.deny, changes.present, changes.absent, started);
      this.denyPosition = changes.position;
      this.denyRecheck = changes.changed;
    } catch (err) {
      this.log(
        `deny list not refreshed (snapshot is ${Math.round((this.now() - this.deny.refreshedAt) / 1000)} s old): ${String(err)}`,
      );
    }
  }

  async refreshHubLoad(): Promise<void> {
    try {
      this.hubLoad = await this.sources.loadHubLoad();
    } catch (err) {
      this.log(`hub load not refreshed: ${String(err)}`);
    }
  }

  /** What this instance decides from now (the console's allocation view): policy, hub load, deny-list size. */
  async state(): Promise<RuntimeState> {
    await this.waitReady();
    return {
      policy: this.policy,
      policyProblem: this.policyProblem,
      hubLoad: new Map(this.hubLoad),
      denyEntries: this.deny.entries.size,
      denyRefreshedAt: this.deny.refreshedAt ? new Date(this.deny.refreshedAt).toISOString() : undefined,
    };
  }

  /** Breach containment pushes new entries here so this instance refuses them at once. */
  pushDenyEntries(entries: DenyEntry[]): void {
    const createdAt = new Date(this.now()).toISOString();
    this.deny = withChanges(
      this.deny,
      entries.map((e) => ({ createdAt, ...e })),
      [],
      this.deny.refreshedAt,
    );
  }

  /** A released incident's entries leave this instance's snapshot at once. */
  removeDenyEntries(entries: DenyEntry[]): void {
    this.deny = withChanges(this.deny, [], entries, this.deny.refreshedAt);
  }

  private async waitReady(): Promise<boolean> {
    const ready = this.start();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.readyTimeoutMs ?? 3000);
    });
    const result = await Promise.race([ready.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Decides for a raw request body. `explain` keeps every candidate in the answer. */
  async allocate(body: unknown, explain = false): Promise<HttpOutcome> {
    const started = performance.now();
    const parsed = parseAllocationRequest(body);
    if (!parsed.ok) return this.answer({ kind: 'invalid', reason: parsed.reason }, started, undefined, explain);
    if (!(await this.waitReady()))
      return this.answer(
        { kind: 'unavailable', reason: 'the first policy and deny-list snapshots are still loading' },
        started,
        parsed.value.deviceRuntimeContext.registrationId,
        explain,
      );
    if (this.policyProblem && !this.policy)
      return this.answer(
        { kind: 'unavailable', reason: this.policyProblem },
        started,
        parsed.value.deviceRuntimeContext.registrationId,
        explain,
      );
    const context = parsed.value.deviceRuntimeContext;
    if (context.x509Unreadable && !this.warnedUnreadable) {
      this.warnedUnreadable = true; // once per process: DPS sends the same shape every time
      this.log(`warning: ${context.x509Unreadable}; devices of this shape are refused while certificates are revoked`);
    }
    const outcome = decide(parsed.value, this.policy, { deny: this.deny, hubLoad: this.hubLoad }, this.now(), explain);
    const answer = this.answer(outcome, started, context.registrationId, explain);
    if (outcome.kind === 'allocate' && context.x509 && !explain)
      this.options.onDeviceCertificate?.(context.x509, context.registrationId, outcome.response.iotHubHostName);
    return answer;
  }

  private answer(outcome: Outcome, started: number, registrationId: string | undefined, explain: boolean): HttpOutcome {
    const latencyMs = performance.now() - started;
    if (!explain) {
      this.counters.record(outcome, this.now());
      this.options.metrics?.allocation({
        outcome: outcome.kind,
        latencyMs,
        ...(outcome.kind === 'allocate' ? { rule: outcome.rule, hub: outcome.response.iotHubHostName } : {}),
      });
    }
    this.events.add({
      type: `allocation.${outcome.kind}`,
      subject: registrationId ?? 'unknown',
      time: new Date(this.now()).toISOString(),
      data: {
        registrationId,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
        reason: outcome.reason,
        ...(outcome.kind === 'allocate' ? { hub: outcome.response.iotHubHostName, rule: outcome.rule } : {}),
        ...(outcome.kind === 'deny'
          ? { revoked: { kind: outcome.entry.kind, value: outcome.entry.value, incidentId: outcome.entry.incidentId } }
          : {}),
      },
    });
    return explain
      ? httpOutcome(outcome, {
          policy: this.policy?.id ?? null,
          denyListAgeMs: this.now() - this.deny.refreshedAt,
          latencyMs,
        })
      : httpOutcome(outcome);
  }
}
