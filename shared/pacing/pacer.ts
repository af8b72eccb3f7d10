/**
 * One process's side of a shared pace. Every worker instance calling DPS spends the same quota, so the pace is one
 * document per service (the `PaceRepository`), and an instance leases slots from its schedule: the calls waiting at a
 * moment are leased together (one read and one write of the document for all of them, never more than one lease in
 * flight), each then sleeps to its slot. What the instance saw accepted rides along with its next lease; a 429 is
 * written at once (the pace falls, every instance's next lease starts after the Retry-After). A call whose slot
 * came before a 429 it has since learned of (the epoch moved, or a hold covers its slot) leases again, so nothing
 * leased at the old pace is sent after the decrease — from this instance; another instance learns at its next
 * lease, after at most the calls it had already leased.
 */
import { TransientError } from '../errors';
import type { Deadline } from '../ports';
import { OutOfTimeError } from '../retry';
import { adopt, type Grant, lease, type Pace, PACE_RULE, type PaceSettings, type Report, throttle } from './rules/pace';

/** The learned paces, one document per service. */
export interface PaceRepository {
  /** Read, change, write under the etag, again while someone else wrote meanwhile; `change` sees undefined at first. */
  update(key: string, change: (current: Pace | undefined) => Pace): Promise<Pace>;
}

export interface PacerDeps {
  paces: () => Promise<PaceRepository>;
  /** The service's document, e.g. `dps.contoso-dps.azure-devices-provisioning.net`. */
  key: string;
  settings: PaceSettings;
  /** Milliseconds; the tests' manual clock. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** How long a lease waits for the shared pace before this instance paces alone (default STORE_WAIT_MS). */
  storeWaitMs?: number;
}

export const STORE_WAIT_MS = 2000;

/** A slot taken: what the call reports back with. */
export interface Ticket {
  epoch: number;
  ops: number;
}

interface Waiter {
  ops: number;
  resolve: (slot: { at: number; epoch: number }) => void;
  reject: (err: unknown) => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Pacer {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private waiting: Waiter[] = [];
  private leasing = false;
  /** What this instance knows of the shared pace, from its last lease or 429. */
  private known?: Pace;
  /** Accepted under `known.epoch`, not yet written. */
  private accepted = 0;

  constructor(private readonly deps: PacerDeps) {
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? realSleep;
  }

  /** The pace as this instance last saw it (for logs, metrics and tests). */
  current(): Pace | undefined {
    return this.known && { ...this.known };
  }

  /**
   * Waits for a slot for a call of `ops` operations. Given the caller's `deadline`, a slot that comes past it is not
   * waited for: the caller's time is up before its call could go, and it hears so (OutOfTimeError, to come back when
   * the slot would have come, on the caller's clock). The slot stays leased and unused, as a late lease's are.
   */
  async acquire(ops: number, deadline?: Deadline): Promise<Ticket> {
    for (;;) {
      const slot = await new Promise<{ at: number; epoch: number }>((resolve, reject) => {
        this.waiting.push({ ops, resolve, reject });
        this.pump();
      });
      const wait = slot.at - this.now();
      if (deadline && Math.max(0, wait) > deadline.stopAt - deadline.now())
        throw new OutOfTimeError(
          new Error(`no pace slot for ${this.deps.key} before the deadline`),
          deadline.now() + Math.max(0, wait),
        );
      if (wait > 0) await this.sleep(wait);
      if (this.known && slot.epoch === this.known.epoch && this.now() >= this.known.holdUntil)
        return { epoch: slot.epoch, ops };
    }
  }

  /** The call was answered (not throttled): the service took its operations. */
  settled(ticket: Ticket): void {
    if (ticket.epoch === this.known?.epoch) this.accepted += ticket.ops;
  }

  /** The call met a 429: the shared pace falls (once per epoch) and holds every caller until the Retry-After. */
  async throttled(ticket: Ticket, retryAfterMs: number | undefined): Promise<void> {
    const report = this.report();
    const now = this.now();
    this.learn(
      await (
        await this.deps.paces()
      ).update(this.deps.key, (current) =>
        throttle(adopt(current, this.deps.settings, now), {
          epoch: ticket.epoch,
          now,
          ops: ticket.ops,
          retryAfterMs,
          report,
        }),
      ),
    );
  }

  private report(): Report | undefined {
    if (!this.known || this.accepted === 0) return undefined;
    const report = { epoch: this.known.epoch, accepted: this.accepted };
    this.accepted = 0;
    return report;
  }

  private learn(pace: Pace): void {
    // Never backwards: a lease read before a 429 this instance already wrote may answer after it.
    if (this.known && pace.epoch < this.known.epoch) return;
    if (pace.epoch !== this.known?.epoch) this.accepted = 0;
    this.known = pace;
  }

  /**
   * Leases slots a few calls at a time (PACE_RULE.leaseAhead operations, at least one call), one lease in flight,
   * the next when the last slot leased comes: slots are cut at the pace of that moment, so calls leased just in time
   * go at a pace that rose meanwhile, and a 429 in between reaches them before they are leased.
   */
  private pump(): void {
    if (this.leasing || this.waiting.length === 0) return;
    this.leasing = true;
    void this.leaseWhileWaiting().finally(() => {
      this.leasing = false;
    });
  }

  private async leaseWhileWaiting(): Promise<void> {
    while (this.waiting.length > 0) {
      let ops = 0;
      let n = 0;
      while (n < this.waiting.length && (n === 0 || ops + this.waiting[n].ops <= PACE_RULE.leaseAhead))
        ops += this.waiting[n++].ops;
      const group = this.waiting.splice(0, n);
      let grants: Grant[];
      try {
        grants = await this.lease(group.map((w) => w.ops));
      } catch (err) {
        group.forEach((w) => w.reject(err));
        continue;
      }
      group.forEach((w, i) => w.resolve({ at: grants[i].from, epoch: grants[i].epoch }));
      const wait = grants[grants.length - 1].from - this.now();
      if (this.waiting.length > 0 && wait > 0) await this.sleep(wait);
    }
  }

  /** One lease per call of the group, in the order they came, in one write of the shared pace. */
  private async lease(calls: number[]): Promise<Grant[]> {
    const report = this.report();
    const now = this.now();
    let grants: Grant[] = [];
    const leaseAll = (current: Pace | undefined) => {
      // Called again after a conflict: the grants are those of the write that stood.
      grants = [];
      let next = adopt(current, this.deps.settings, now);
      calls.forEach((ops, i) => {
        const leased = lease(next, ops, now, i === 0 ? report : undefined);
        grants.push(leased.grant);
        next = leased.pace;
      });
      return next;
    };
    // The shared pace out of reach — its store down, its answer lost, or slower than storeWaitMs (a store's own retries
    // may take a minute): this instance paces alone from what it last knew rather than hold or fail a DPS call for a
    // store the call does not need; the next lease shares again (a late write only leaves its slots unused).
    const outOfReach = Symbol('out of reach');
    const shared = (async () => (await this.deps.paces()).update(this.deps.key, leaseAll))();
    // A wall-clock timer, not the pacer's sleep: how long a store takes is real time, whatever clock paces the calls.
    let timer: NodeJS.Timeout | undefined;
    const pace = await Promise.race([
      shared.catch((err: unknown) => {
        if (err instanceof TransientError) return outOfReach;
        throw err;
      }),
      new Promise<typeof outOfReach>((resolve) => {
        timer = setTimeout(() => resolve(outOfReach), this.deps.storeWaitMs ?? STORE_WAIT_MS);
      }),
    ])
      .then((won) => (won === outOfReach ? leaseAll(this.known) : (won as Pace)))
      .finally(() => clearTimeout(timer));
    this.learn(pace);
    return grants;
  }
}
