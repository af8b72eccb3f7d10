/**
 * An incident's filing day (deps.ts `filingDayOf`): a share knows it from the incident it holds, without a read; other
 * callers read it once per repository, and callers at once share that one read — a batch of ten records, each
 * audited, no longer reads the incident ten times on every invocation.
 */
import { filingDayOf, type IncidentDeps } from '../../../shared/incidents/deps';
import type { IncidentRepository } from '../../../shared/incidents/repositories';
import type { Incident } from '../../../shared/incidents/rules/model';

function countingRepo(receivedAt: string | undefined) {
  const reads = { count: 0 };
  const repo = {
    async get(id: string) {
      reads.count++;
      await Promise.resolve();
      return receivedAt ? ({ id, receivedAt } as Incident) : undefined;
    },
  } as unknown as IncidentRepository;
  return { reads, deps: { incidents: async () => repo } as Pick<IncidentDeps, 'incidents' | 'received'> };
}

test('a share passes its incident’s receipt: the day is known without a read', async () => {
  const { reads, deps } = countingRepo('2026-11-25T09:00:00Z');
  const share = { ...deps, received: { 'inc-1': '2026-11-24T23:59:59Z' } };
  expect(await filingDayOf(share, 'inc-1')).toBe('2026-11-24');
  expect(reads.count).toBe(0);
});

test('callers at once share one read; later callers read nothing', async () => {
  const { reads, deps } = countingRepo('2026-11-25T09:00:00Z');
  const days = await Promise.all(Array.from({ length: 10 }, () => filingDayOf(deps, 'inc-2')));
  expect(new Set(days)).toEqual(new Set(['2026-11-25']));
  expect(await filingDayOf(deps, 'inc-2')).toBe('2026-11-25');
  expect(reads.count).toBe(1);
});

test('an incident not found is not remembered: the next caller reads again', async () => {
  const { reads, deps } = countingRepo(undefined);
  await expect(filingDayOf(deps, 'inc-3')).rejects.toThrow('not found');
  await expect(filingDayOf(deps, 'inc-3')).rejects.toThrow('not found');
  expect(reads.count).toBe(2);
});
