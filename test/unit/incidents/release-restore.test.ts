/**
 * A release that stops between letting go of a hold and putting the thing back, over in-memory repositories and a
 * scripted DPS: the hold stays a pending restore, so the release run again enables the enrollment — audited once —
 * and an incident that needs the enrollment meanwhile waits for the restore (HoldBusyError) instead of reading it
 * disabled, then disables it again itself.
 */
import { CONTAINERS } from '../../../shared/containers';
import type { IndividualEnrollment } from '../../../shared/dps-types';
import { ConflictError, TransientError } from '../../../shared/errors';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import { disableEnrollment } from '../../../shared/incidents/dps-holds';
import { releaseHold } from '../../../shared/incidents/holds';
import { HoldBusyError, holdId } from '../../../shared/incidents/repositories';
import { CosmosHoldRepository } from '../../../shared/incidents/store/hold-repository';
import { MemoryStore } from '../../support/memory-store';
import { receivedIncidents } from '../../support/received-incidents';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const NOW = Date.parse('2026-11-25T10:00:00Z');

/** Individual enrollments under etags; `failPuts` puts fail before DPS applies them (a connection refused). */
class ScriptedDps {
  enrollments = new Map<string, IndividualEnrollment>();
  failPuts = 0;
  private etag = 0;

  async getEnrollment(id: string) {
    const e = this.enrollments.get(id);
    return e && structuredClone(e);
  }
  async putEnrollment(e: IndividualEnrollment) {
    if (this.failPuts > 0 && this.failPuts--) throw new TransientError('connection refused', undefined);
    const current = this.enrollments.get(e.registrationId);
    if (e.etag && current && current.etag !== e.etag) throw new ConflictError('etag', 412);
    const stored = { ...structuredClone(e), etag: String(++this.etag) };
    this.enrollments.set(e.registrationId, stored);
    return structuredClone(stored);
  }
}

function setup() {
  const store = new MemoryStore(partitionKeys);
  const holds = new CosmosHoldRepository(store);
  const dps = new ScriptedDps();
  let now = NOW;
  const deps = {
    incidents: receivedIncidents(store, ['inc-a', 'inc-b']),
    holds: async () => holds,
    store: async () => store,
    enrollments: async () => dps,
    clock: { now: () => new Date(now) },
    retry: { transientAttempts: 1 },
  } as unknown as IncidentDeps;
  const audits = async () =>
    (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items as unknown as Array<{
      action: string;
      actor: string;
      target: { id: string };
    }>;
  const hold = (id: string) => store.container(CONTAINERS.holds.name).read(id, id);
  return { deps, dps, audits, hold, advance: (ms: number) => (now += ms) };
}

test('a release stopped before the enrollment was put back finishes it when run again; a holder meanwhile waits', async () => {
  const s = setup();
  await s.dps.putEnrollment({ registrationId: 'dev-1', provisioningStatus: 'enabled', attestation: { type: 'tpm' } });
  await disableEnrollment(s.deps, 'inc-a', 'dev-1', false);
  expect(s.dps.enrollments.get('dev-1')?.provisioningStatus).toBe('disabled');
  const id = holdId.enrollment('dev-1');
  const claimUntil = NOW + 5 * 60_000;

  // The release lets go, then DPS is unreachable for its write: the release stops with the enrollment disabled.
  s.dps.failPuts = 1;
  await expect(releaseHold(s.deps, 'inc-a', id, 'admin', claimUntil)).rejects.toThrow('connection refused');
  expect(s.dps.enrollments.get('dev-1')?.provisioningStatus).toBe('disabled');
  expect(await s.hold(id)).toMatchObject({ holders: [], restoring: { by: 'inc-a', until: claimUntil } });

  // Another incident needs the device meanwhile: it reads "disabled", and must not take that as the truth.
  s.advance(10_000);
  const waited = await disableEnrollment(s.deps, 'inc-b', 'dev-1', false).catch((e: unknown) => e);
  expect(waited).toBeInstanceOf(HoldBusyError);

  // The release run again (its message redelivered) finishes the restore; run once more, nothing changes.
  await releaseHold(s.deps, 'inc-a', id, 'admin', claimUntil);
  await releaseHold(s.deps, 'inc-a', id, 'admin', claimUntil);
  expect(s.dps.enrollments.get('dev-1')?.provisioningStatus).toBe('enabled');
  expect(await s.hold(id)).toBeUndefined();

  // The other incident comes back: it finds the enrollment enabled, holds it and disables it itself.
  await disableEnrollment(s.deps, 'inc-b', 'dev-1', false);
  expect(s.dps.enrollments.get('dev-1')?.provisioningStatus).toBe('disabled');
  expect(await s.hold(id)).toMatchObject({ holders: ['inc-b'], restore: { type: 'enableEnrollment' } });
  const records = (await s.audits()).map((a) => `${a.actor.split(' ')[0]} ${a.action} ${a.target.id}`).sort();
  expect(records).toEqual([
    'incident:inc-a disableEnrollment dev-1',
    'incident:inc-b disableEnrollment dev-1',
    'release:inc-a enableEnrollment dev-1',
  ]);
});
