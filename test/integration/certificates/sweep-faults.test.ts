/**
 * The reconciliation pass and the expiry sweep while Cosmos loses the answers to writes it applied (findings, claims,
 * records, checkpoints) and DPS answers 503 or drops the connection on its queries and reads, on one seeded plan:
 * the pass, run again from its checkpoint after any run the faults stop, ends with the inventory, the findings and
 * the claims a fault-free pass leaves; the sweep raises each certificate once per horizon it reaches — no finding
 * lost, none for a certificate that is not near its end, each finding's event published once — across a run under
 * faults, a re-run and a later run; the one roll whose answer DPS lost is audited once.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { FaultPlan } from '../../../dev/faults/plan';
import { NO_FAULTS } from '../../../dev/faults/plan';
import { issue, type Issued } from '../../../dev/pki';
import { sweepExpiries, type SweepReport } from '../../../shared/certificates/expiry-sweep';
import { reconcileInventory } from '../../../shared/certificates/inventory';
import { DEFAULT_HORIZONS } from '../../../shared/certificates/rules/horizons';
import { lazyServices } from '../../../shared/composition';
import { CONTAINERS } from '../../../shared/containers';
import type { DomainEvent } from '../../../shared/ports';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';
import { x509Enrollment } from '../../support/test-certificates';

const DAY = 86_400_000;
const clock = manualClock(Date.parse('2026-06-01T00:00:00Z'));
const T0 = clock.now();
let stack: TestStack;
let app: ReturnType<typeof lazyServices>;
const certs: Record<string, Issued> = {};
const thumb = (c: Issued) => new X509Certificate(c.certPem).fingerprint256.replace(/:/g, '');

/** What the pass and the sweep write, and where. */
const WRITTEN = [
  CONTAINERS.certificates.name,
  CONTAINERS.checkpoints.name,
  CONTAINERS.findings.name,
  CONTAINERS.endorsementKeys.name,
];

beforeAll(async () => {
  // With storage: a roll's audit record also goes to the blob trail, as in Azure.
  stack = await startTestStack({ clock: clock.millis, faults: NO_FAULTS, withStorage: true });
  app = lazyServices(stack.env);
  const root = await issue({ subject: 'CN=Faults Root', isCa: true, notAfter: new Date(T0.getTime() + 3650 * DAY) });
  const cert = (name: string, days: number, isCa = false) =>
    issue({
      subject: `CN=${name}`,
      issuer: root,
      isCa,
      notBefore: new Date(T0.getTime() - 30 * DAY),
      notAfter: new Date(T0.getTime() + days * DAY),
    });
  Object.assign(certs, {
    d5: await cert('flt-5', 5),
    d20: await cert('flt-20', 20),
    d60: await cert('flt-60', 60),
    d400: await cert('flt-400', 400),
    old: await cert('flt-roll', 3),
    staged: await cert('flt-roll', 400),
    cloned: await cert('flt-cloned', 500),
    signer: await cert('Faults Line Intermediate', 25, true),
  });
  const dps = stack.services.enrollments;
  const enroll = (id: string, primary: Issued, secondary?: Issued) =>
    dps.putEnrollment(x509Enrollment(id, primary, secondary));
  await enroll('flt-5', certs.d5);
  await enroll('flt-20', certs.d20);
  await enroll('flt-60', certs.d60);
  await enroll('flt-400', certs.d400);
  await enroll('flt-roll', certs.old, certs.staged);
  await enroll('flt-clone-a', certs.cloned);
  await enroll('flt-clone-b', certs.cloned);
  await dps.putGroup({
    enrollmentGroupId: 'flt-line',
    attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: certs.signer.certPem } } } },
  });
  const ek = (await import('../../../dev/ek-factory')).randomEk().toString('base64');
  for (const id of ['flt-tpm-a', 'flt-tpm-b'])
    await dps.putEnrollment({ registrationId: id, attestation: { type: 'tpm', tpm: { endorsementKey: ek } } });
  await dps.putEnrollment({
    registrationId: 'flt-meter-new',
    deviceId: 'flt-meter',
    attestation: { type: 'symmetricKey' },
  });
  await dps.putEnrollment({ registrationId: 'flt-meter', attestation: { type: 'symmetricKey' } });
  for (let i = 0; i < 6; i++)
    await dps.putEnrollment({ registrationId: `flt-plain-${i}`, attestation: { type: 'symmetricKey' } });
});
afterAll(async () => {
  stack?.faults?.set(NO_FAULTS);
  await (await app?.events())?.close();
  await stack?.close();
});

const faults = () => stack.faults as NonNullable<TestStack['faults']>;
/** Read and written around the proxy: the test's own view, which no plan touches. */
const direct = (container: string) => stack.cosmos.client.database(stack.env.COSMOS_DATABASE).container(container);
/** Small pages and no real backoff: many checkpoints, many calls for the plan to hit. */
const deps = () => ({ ...app, clock, retry: { attempts: 20, transientBaseDelayMs: 1 } });

/** Everything the pass and the sweep wrote, without what says when or which try wrote it. */
async function written(): Promise<Record<string, unknown[]>> {
  const volatile = new Set(['raisedAt', 'raiseId', 'passStartedAt', 'lastPassCompletedAt', 'continuationToken']);
  const normal = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(normal).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    if (value && typeof value === 'object')
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k]) => !k.startsWith('_') && !volatile.has(k))
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, v]) => [k, normal(v)]),
      );
    return value;
  };
  const out: Record<string, unknown[]> = {};
  for (const name of WRITTEN)
    // DPS's shared pace (shared/pacing) keeps its state beside the checkpoints: how fast DPS was called, not what the
    // pass found, so it differs between the two runs and is left out.
    out[name] = normal(
      (await direct(name).items.readAll().fetchAll()).resources.filter((d) => d.kind !== 'pace'),
    ) as unknown[];
  return out;
}

async function wipe(): Promise<void> {
  for (const name of WRITTEN) {
    const pk = Object.values(CONTAINERS)
      .find((c) => c.name === name)
      ?.partitionKeyPath.slice(1) as string;
    for (const doc of (await direct(name).items.readAll().fetchAll()).resources)
      await direct(name)
        .item(doc.id as string, doc[pk])
        .delete();
  }
}

/** Runs until a run ends without an error, as the timer would, each run resuming from what the last one left. */
async function untilDone<T>(run: () => Promise<T>): Promise<{ result: T; runs: number }> {
  for (let runs = 1; runs <= 20; runs++) {
    try {
      return { result: await run(), runs };
    } catch {
      // the faults outlasted the retries somewhere: the next run goes on
    }
  }
  throw new Error('twenty runs and still failing');
}

const events = (): DomainEvent[] =>
  readFileSync(stack.env.EVENT_LOG_PATH, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DomainEvent);

/** Lost answers everywhere, and more than the retries can take on one query: the pass stops and resumes. */
const RECONCILE_PLAN: FaultPlan = {
  seed: 23,
  rules: [
    // On these call numbers, whichever concurrent call takes them: no one call is failed five times (the Cosmos
    // adapter's tries) by them, so what they prove holds on every run of the test.
    { service: 'cosmos', operation: 'create', calls: [1, 4], fault: { kind: 'resetAfterApply' } },
    { service: 'cosmos', operation: 'upsert', calls: [2, 7], fault: { kind: 'resetAfterApply' } },
    { service: 'cosmos', operation: 'upsert', calls: [3], fault: { kind: 'status', status: 503 } },
    // Queries are one at a time: the first page is read on the third try, the third page never (six tries): the run
    // stops after two checkpointed pages, and the next run resumes at the third.
    { service: 'dps', operation: 'queryEnrollments', calls: [1], fault: { kind: 'status', status: 503 } },
    { service: 'dps', operation: 'queryEnrollments', calls: [2], fault: { kind: 'resetAfterApply' } },
    {
      service: 'dps',
      operation: 'queryEnrollments',
      calls: [5, 6, 7, 8, 9, 10],
      fault: { kind: 'status', status: 503 },
    },
    { service: 'dps', operation: 'getEnrollment', calls: [1], fault: { kind: 'resetBeforeApply' } },
    { service: 'dps', operation: 'getEnrollment', calls: [2], fault: { kind: 'status', status: 503 } },
    // And a seeded share of the rest.
    {
      service: 'cosmos',
      operation: ['create', 'replace', 'upsert'],
      probability: 0.05,
      fault: { kind: 'resetAfterApply' },
    },
    {
      service: 'dps',
      operation: ['queryEnrollments', 'queryGroups'],
      probability: 0.05,
      fault: { kind: 'status', status: 503 },
    },
  ],
};

/** The sweep writes one certificate at a time, so call numbers name the same writes on every run. */
const SWEEP_PLAN: FaultPlan = {
  seed: 23,
  rules: [
    // The first finding's create applied, its answer lost: the retry meets 409, and the raise is still ours.
    {
      service: 'cosmos',
      target: CONTAINERS.findings.name,
      operation: 'create',
      calls: [1],
      fault: { kind: 'resetAfterApply' },
    },
    // The second's lost five times over: the run fails with the finding written and untold; the re-run tells it.
    {
      service: 'cosmos',
      target: CONTAINERS.findings.name,
      operation: 'create',
      calls: [3, 4, 5, 6, 7],
      fault: { kind: 'resetAfterApply' },
    },
    // Marks written, answers lost: the retry meets 412, reads again and finds its own write.
    { service: 'cosmos', operation: 'replace', calls: [1, 3], fault: { kind: 'resetAfterApply' } },
    // The roll applied by DPS, its answer lost.
    { service: 'dps', operation: 'putEnrollment', calls: [1], fault: { kind: 'resetAfterApply' } },
    { service: 'dps', operation: 'getEnrollment', calls: [1], fault: { kind: 'status', status: 503 } },
    {
      service: 'cosmos',
      operation: ['create', 'replace', 'upsert'],
      probability: 0.05,
      fault: { kind: 'resetAfterApply' },
    },
  ],
};

let reference: Record<string, unknown[]>;

test('the reconciliation pass under faults ends where a fault-free pass ends', async () => {
  const clean = await reconcileInventory(deps(), { pageSize: 3 });
  expect(clean).toMatchObject({ passes: 1, lastPassSeen: 18 });
  reference = await written();
  expect(reference[CONTAINERS.findings.name].map((f) => (f as { id: string }).id).sort()).toEqual([
    'audit.CERT_SHARED.' + thumb(certs.cloned),
    'audit.DEVICE_ID_SHARED.flt-meter',
    expect.stringMatching(/^audit\.EK_SHARED\./),
  ]);

  await wipe();
  const before = events().length;
  faults().set(RECONCILE_PLAN);
  faults().resetCounts();
  const { result, runs } = await untilDone(() => reconcileInventory(deps(), { pageSize: 3 }));
  const injected = faults().counts().byService;
  faults().set(NO_FAULTS);
  expect(result).toMatchObject({ passes: 1, lastPassSeen: 18 });
  expect(runs).toBeGreaterThanOrEqual(2); // stopped at least once (the third page), resumed from its checkpoint
  expect(injected.cosmos?.resetAfterApply).toBeGreaterThanOrEqual(4);
  expect(injected.cosmos?.['status 503']).toBeGreaterThanOrEqual(1);
  expect(injected.dps?.['status 503']).toBeGreaterThanOrEqual(8);
  expect(injected.dps?.resetAfterApply).toBeGreaterThanOrEqual(1);
  expect(injected.dps?.resetBeforeApply).toBeGreaterThanOrEqual(1);

  expect(await written()).toEqual(reference);
  // Each audit finding told once, lost answers and re-runs included.
  const told = events()
    .slice(before)
    .filter((e) => /audit$/.test(e.type))
    .map((e) => `${e.data.code} ${e.subject}`);
  expect(told).toHaveLength(3);
  expect(new Set(told).size).toBe(3);
});

test('the sweep under faults raises each certificate once per horizon: none lost, none phantom, each told once', async () => {
  const before = events().length;
  const reports: SweepReport[] = [];
  const runs: number[] = [];
  const sweep = async () => {
    const { result, runs: n } = await untilDone(() =>
      sweepExpiries(deps(), { now: clock.now(), horizons: DEFAULT_HORIZONS }),
    );
    reports.push(result);
    runs.push(n);
  };
  faults().set(SWEEP_PLAN);
  faults().resetCounts();
  await sweep();
  await sweep(); // a re-run in the same hour: nothing new
  const injected = faults().counts().byService;
  clock.advance(35 * DAY);
  faults().set({ ...SWEEP_PLAN, seed: 24 }); // its counts start again
  await sweep();
  await sweep();
  faults().set(NO_FAULTS);
  expect(injected.cosmos?.resetAfterApply).toBeGreaterThanOrEqual(8);
  expect(injected.dps).toMatchObject({ resetAfterApply: 1, 'status 503': 1 });
  expect(runs).toEqual([2, 1, 2, 1]); // the five lost answers stop a run each time; the re-run finishes it

  const expected = [
    `expiry.${thumb(certs.d5)}.7`,
    `expiry.${thumb(certs.d20)}.30`,
    `expiry.${thumb(certs.d60)}.90`,
    `expiry.${thumb(certs.signer)}.30`,
    // 35 days on
    `expiry.${thumb(certs.d5)}.0`,
    `expiry.${thumb(certs.d20)}.0`,
    `expiry.${thumb(certs.d60)}.30`,
    `expiry.${thumb(certs.signer)}.0`,
  ].sort();
  const findings = (
    await direct(CONTAINERS.findings.name)
      .items.query({ query: 'SELECT c.id FROM c WHERE c.kind = "expiry"' }, { partitionKey: 'expiry' })
      .fetchAll()
  ).resources.map((f) => f.id as string);
  expect(findings.sort()).toEqual(expected);

  // Each finding's event went out exactly once, and no event names a finding that is not there.
  const told = events()
    .slice(before)
    .filter((e) => e.type === 'certificate.expiring' || e.type === 'certificate.expired')
    .map((e) => `expiry.${e.subject}.${e.data.horizon}`);
  expect(told.sort()).toEqual(expected);
  // The re-runs at the same hour found nothing left to raise.
  expect(reports[1].raised).toEqual([]);
  expect(reports[3].raised).toEqual([]);

  // The roll whose answer DPS lost is done, recorded in the inventory, audited and told once.
  const rolled = await stack.services.enrollments.getEnrollment('flt-roll');
  expect(rolled?.attestation.x509?.clientCertificates?.primary?.info?.sha256Thumbprint).toBe(thumb(certs.staged));
  expect(rolled?.attestation.x509?.clientCertificates?.secondary).toBeUndefined();
  expect(reports.flatMap((r) => r.rolled)).toEqual([
    { kind: 'enrollment', id: 'flt-roll', reason: 'the primary expires within 7 days' },
  ]);
  const audited = (
    await direct(CONTAINERS.audit.name)
      .items.query({ query: 'SELECT * FROM c WHERE c.action = "certificate.rolled"' })
      .fetchAll()
  ).resources;
  expect(audited).toHaveLength(1);
  expect(
    events()
      .slice(before)
      .filter((e) => e.type === 'certificate.rolled'),
  ).toHaveLength(1);
  const staged = (await direct(CONTAINERS.certificates.name).items.readAll().fetchAll()).resources.find(
    (c) => c.id === thumb(certs.staged),
  );
  expect(staged?.usages).toEqual([{ kind: 'enrollment', id: 'flt-roll', slot: 'primary' }]);
});
