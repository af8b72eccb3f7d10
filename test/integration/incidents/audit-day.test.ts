/**
 * Through the real Cosmos client and the embedded server, partitioned by `/day` as in Azure: an incident's registration
 * record deleted just before midnight UTC, and the same share run again just after it, is audited once — the record
 * is filed under the incident's day, so the replay's create meets it (409) instead of landing in the next day's
 * partition. The trail's append blob may hold the line twice (a replayed append); the record is one.
 */
import { incidentRepositories, lazyServices } from '../../../shared/composition';
import { CONTAINERS } from '../../../shared/containers';
import type { IncidentDeps } from '../../../shared/incidents';
import { auditIdOf } from '../../../shared/incidents/deps';
import { deleteRegistration } from '../../../shared/incidents/dps-records';
import { newIncident } from '../../../shared/incidents/rules/model';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
});
afterAll(async () => {
  await stack?.close();
});

test('a registration record’s deletion replayed after midnight UTC is audited once, under the incident’s day', async () => {
  const clock = manualClock(Date.parse('2026-11-25T23:59:40Z'));
  const lazy = lazyServices(stack.env);
  const deps: IncidentDeps = { ...lazy, ...incidentRepositories(lazy), clock };
  await (
    await deps.incidents()
  ).create(
    newIncident(
      { id: 'inc-midnight', reason: 'key leaked', mode: 'contain', scope: { enrollmentGroupId: 'g' } },
      'test admin',
      'http',
      '2026-11-25T21:00:00.000Z',
    ),
  );
  await deleteRegistration(deps, 'inc-midnight', 'dev-midnight');
  clock.advance(60_000); // 00:00:40 on the 26th: the share that stopped before its checkpoint runs again
  await deleteRegistration(deps, 'inc-midnight', 'dev-midnight');

  const id = auditIdOf('inc-midnight', 'registration', 'dev-midnight', 'deleted');
  const found = await stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.id = @id', { '@id': id }, { maxItems: 10 });
  expect(found.items).toHaveLength(1);
  expect(found.items[0]).toMatchObject({ day: '2026-11-25', at: '2026-11-25T23:59:40.000Z' });
  // Read where a reader of the incident's day finds it: its partition, by id.
  expect(await stack.services.store.container(CONTAINERS.audit.name).read(id, '2026-11-25')).toBeDefined();
  expect(await stack.services.store.container(CONTAINERS.audit.name).read(id, '2026-11-26')).toBeUndefined();
});
