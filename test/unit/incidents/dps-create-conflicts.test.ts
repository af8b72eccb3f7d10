/**
 * The incident's creates in DPS — a block (a disabled enrollment of its own for one device of a group) and the group
 * that disallows a compromised CA — are puts with no etag. Azure DPS answers such a put naming an existing item 409
 * rather than writing over it (azure-iot-sdk-node#165, azure-iot-sdk-csharp#3076, azure-sdk-for-python#35187), so the
 * retry after a lost answer meets our own first try, and a put racing another writer meets theirs. Over a scripted DPS
 * that answers as Azure does: the 409 is judged by reading what DPS holds — ours is done (recorded once), another's is
 * treated as found (disabled under its etag), never written over blind.
 */
import { CONTAINERS } from '../../../shared/containers';
import type { EnrollmentGroup, IndividualEnrollment } from '../../../shared/dps-types';
import { ConflictError, TransientError } from '../../../shared/errors';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import { disableEnrollment, disallowCa } from '../../../shared/incidents/dps-holds';
import { disallowGroupId } from '../../../shared/incidents/rules/target-actions';
import { CosmosHoldRepository } from '../../../shared/incidents/store/hold-repository';
import { MemoryStore } from '../../support/memory-store';
import { receivedIncidents } from '../../support/received-incidents';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));

/** Items under etags; a put without one over an existing item is 409, as Azure answers it. */
class AzureLikeDps {
  items = new Map<string, (IndividualEnrollment | EnrollmentGroup) & { etag?: string }>();
  puts = 0;
  /** The next put is applied, then its answer lost. */
  loseNextAnswer = false;
  /** Runs just before the next put lands (another writer racing the incident). */
  beforeNextPut?: () => void;
  private etag = 0;

  private get<T>(id: string) {
    const item = this.items.get(id);
    return item && (structuredClone(item) as T);
  }
  private put<T extends { etag?: string }>(id: string, item: T): T {
    this.puts++;
    const race = this.beforeNextPut;
    this.beforeNextPut = undefined;
    race?.();
    const current = this.items.get(id);
    if (!item.etag && current) throw new ConflictError(`${id} already exists`, 409);
    if (item.etag && current?.etag !== item.etag) throw new ConflictError(`${id}: etag`, 412);
    const stored = { ...structuredClone(item), etag: String(++this.etag) };
    this.items.set(id, stored as never);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new TransientError('connection reset (after it was applied)', undefined);
    }
    return structuredClone(stored);
  }
  plant(id: string, item: object) {
    this.items.set(id, { ...item, etag: String(++this.etag) } as never);
  }
  async getEnrollment(id: string) {
    return this.get<IndividualEnrollment>(id);
  }
  async putEnrollment(e: IndividualEnrollment) {
    return this.put(e.registrationId, e);
  }
  async getGroup(id: string) {
    return this.get<EnrollmentGroup>(id);
  }
  async putGroup(g: EnrollmentGroup) {
    return this.put(g.enrollmentGroupId, g);
  }
}

function setup() {
  const store = new MemoryStore(partitionKeys);
  const holds = new CosmosHoldRepository(store);
  const dps = new AzureLikeDps();
  const deps = {
    incidents: receivedIncidents(store, ['inc-1']),
    holds: async () => holds,
    store: async () => store,
    enrollments: async () => dps,
    clock: { now: () => new Date('2026-11-25T10:00:00Z') },
    retry: { sleep: async () => undefined },
  } as unknown as IncidentDeps;
  const audits = async () =>
    (
      (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items as unknown as Array<{
        action: string;
      }>
    ).map((a) => a.action);
  return { deps, dps, audits };
}

const SHA = 'AB'.repeat(32);
const ca = {
  sha256Thumbprint: SHA,
  pem: '-----BEGIN CERTIFICATE-----…',
  subject: 'CN=ica',
  source: 'incident' as const,
};

test('a block whose answer was lost: the retry’s 409 is our own block — done, recorded once', async () => {
  const s = setup();
  s.dps.loseNextAnswer = true;
  await disableEnrollment(s.deps, 'inc-1', 'dev-1', true);
  expect(s.dps.puts).toBe(2);
  expect(s.dps.items.get('dev-1')).toMatchObject({
    provisioningStatus: 'disabled',
    initialTwin: { tags: { blockedByIncident: 'inc-1' } },
  });
  expect(await s.audits()).toEqual(['blockGroupDevice']);
});

test('a block racing another writer’s enrollment: its 409 is theirs — disabled under its etag, not written over', async () => {
  const s = setup();
  s.dps.beforeNextPut = () =>
    s.dps.plant('dev-2', { registrationId: 'dev-2', provisioningStatus: 'enabled', attestation: { type: 'tpm' } });
  await disableEnrollment(s.deps, 'inc-1', 'dev-2', true);
  const held = s.dps.items.get('dev-2') as IndividualEnrollment;
  expect(held).toMatchObject({ provisioningStatus: 'disabled', attestation: { type: 'tpm' } });
  expect(held.initialTwin?.tags?.blockedByIncident).toBeUndefined();
  expect(await s.audits()).toEqual(['disableEnrollment']);
});

test('a CA’s disallow group whose answer was lost: the retry’s 409 is our own group — done, recorded once', async () => {
  const s = setup();
  s.dps.loseNextAnswer = true;
  await disallowCa(s.deps, 'inc-1', ca);
  expect(s.dps.puts).toBe(2);
  expect(s.dps.items.get(disallowGroupId(SHA))).toMatchObject({
    provisioningStatus: 'disabled',
    initialTwin: { tags: { disallowedByIncident: 'inc-1' } },
  });
  expect(await s.audits()).toEqual(['disallowCa']);
});

test('a disallow group racing a group planted under its ID: the planted one is disabled, never left enabled', async () => {
  const s = setup();
  const id = disallowGroupId(SHA);
  s.dps.beforeNextPut = () =>
    s.dps.plant(id, { enrollmentGroupId: id, provisioningStatus: 'enabled', attestation: { type: 'symmetricKey' } });
  await disallowCa(s.deps, 'inc-1', ca);
  expect(s.dps.items.get(id)).toMatchObject({
    provisioningStatus: 'disabled',
    attestation: { type: 'x509' },
    initialTwin: { tags: { disallowedByIncident: 'inc-1' } },
  });
  expect(await s.audits()).toEqual(['disallowCa']);
});
