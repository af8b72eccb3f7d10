/**
 * Review s8, finding 3 (place in test/unit/incidents/). The registration step checks the share's deadline only before
 * a batch, and a batch is now 50 records, 10 at once, each through the DPS pace (which knows no deadline). Nothing
 * stops new records being started once the deadline has passed: a batch begun a moment before the deadline runs to
 * its end. With DPS answering slowly but well (here each delete takes 3 s of the manual clock: 10 in flight of 30 s
 * each, or the pace at its floor of 50 a minute, spend time the same way) the share runs ~150 s past its deadline —
 * far past the incident lease's 15 s margin (advance.ts LEASE_MARGIN_MS), after which another worker may take the
 * lease and run the same step beside it. A record's delete should not be started past the deadline.
 * (Fixed: shared/incidents/early-end.ts `settledEach` starts no item past the deadline.)
 */
import { CONTAINERS } from '../../../shared/containers';
import { type IncidentDeps } from '../../../shared/incidents/deps';
import type { Target } from '../../../shared/incidents/rules/resolution';
import { RUNNERS } from '../../../shared/incidents/steps';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import type { EnrollmentsPort } from '../../../shared/ports';
import { OutOfTimeError } from '../../../shared/retry';
import { manualClock } from '../../support/manual-clock';
import { MemoryStore } from '../../support/memory-store';
import { runningIncident } from '../../support/received-incidents';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const T0 = Date.parse('2026-11-25T10:00:00Z');
const LEASE_MARGIN_MS = 15_000;

test('no registration delete is started past the share deadline (beyond the lease margin)', async () => {
  const store = new MemoryStore(partitionKeys);
  const repo = new CosmosIncidentRepository(store);
  const clock = manualClock(T0);
  const N = 50;
  const targets: Target[] = Array.from({ length: N }, (_, i) => ({
    registrationId: `dev-${i}`,
    deviceId: `dev-${i}`,
    hub: 'hub-1',
    via: 'group',
  }));
  await runningIncident(
    repo,
    'inc-d',
    [{ kind: 'registrations', state: 'running', done: 0, total: N, page: 0, offset: 0, errors: [] }],
    [targets],
  );
  const started: number[] = [];
  const dps = {
    async deleteRegistrationState() {
      started.push(clock.millis());
      await Promise.resolve();
      clock.advance(3_000); // answered, slowly
    },
  } as unknown as EnrollmentsPort;
  const deadline = T0 + 10_000;
  const deps = {
    incidents: async () => repo,
    store: async () => store,
    enrollments: async () => dps,
    clock,
    // As advance.ts gives a share's calls: no retry waits past the deadline.
    retry: { sleep: async (ms: number) => clock.advance(ms), stopAt: deadline, now: () => clock.millis() },
  } as unknown as IncidentDeps;

  const ended = await RUNNERS.registrations(deps, (await repo.get('inc-d'))!, 0, deadline).catch((err: unknown) => err);

  expect(started.length).toBeGreaterThan(0);
  expect(Math.max(...started)).toBeLessThanOrEqual(deadline + LEASE_MARGIN_MS);
  // Only the first wave (started before the deadline) ran; the share ends early, to be followed at once.
  expect(started).toHaveLength(10);
  expect(ended).toBeInstanceOf(OutOfTimeError);
  // The cut batch is not checkpointed: the next share does it again from its start (each delete is idempotent).
  expect((await repo.get('inc-d'))!.steps![0]).toMatchObject({ offset: 0, done: 0, errors: [] });
});
