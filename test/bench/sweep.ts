/**
 * `npm run bench:sweep`:
 * 1. The expiry sweep over an inventory of 1,000,000 certificates of which 1 % (10,000) expire within the 90-day
 *    horizon, beside a naive full scan in the same run: time and documents read. Also the same sweep over a fleet of
 *    100,000 with the same 10,000 expiring, to show the cost follows what expires, not the fleet. In memory (see
 *    memory-store.ts: the embedded Cosmos server cannot hold a million documents).
 * 2. Reconciliation of 100,000 X.509 enrollments through the simulated DPS (service SDK) at its real quota (1,000
 *    operations/min, pages of 100): enrollments/min as a ratio of that ceiling. The inventory is the in-memory store
 *    again: the embedded Cosmos server needs minutes for one query over 100,000 documents.
 */
import 'reflect-metadata';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadLocalSettings } from '../../dev/local-settings';
import { startLocalStack } from '../../dev/stack';
import { sweepExpiries } from '../../shared/certificates/expiry-sweep';
import { reconcileInventory } from '../../shared/certificates/inventory';
import { DEFAULT_HORIZONS, horizonToRaise } from '../../shared/certificates/rules/horizons';
import { type CertificateRecord, monthOf } from '../../shared/certificates/rules/record';
import { CosmosCertificateRepository } from '../../shared/certificates/store/cosmos-certificates';
import { buildServices } from '../../shared/composition';
import { repositories } from '../../shared/composition/services';
import { CONTAINERS } from '../../shared/containers';
import type { DomainEvent, EnrollmentsPort, EventsPort, StoredDocument } from '../../shared/ports';
import { MemoryStore } from '../support/memory-store';
import { fmt, ratio, runBench } from './support';

const DAY = 86_400_000;
const EXPIRING = 10_000;
const ENROLLMENTS = Number(process.env.BENCH_ENROLLMENTS ?? 100_000);
const PAGE = 100;
const now = new Date();
const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));

function inventory(fleet: number): MemoryStore {
  const store = new MemoryStore(partitionKeys);
  const container = store.container<CertificateRecord & StoredDocument>(CONTAINERS.certificates.name);
  for (let i = 0; i < fleet; i++) {
    // 1 in 100 inside the horizon; the rest spread over the next ten years.
    const days = i < EXPIRING ? 1 + (i % 89) + (i % 7) / 7 : 91 + ((i * 7919) % 3560);
    const notAfter = new Date(now.getTime() + days * DAY).toISOString();
    const id = i.toString(16).padStart(64, '0').toUpperCase();
    void container.upsert({
      id,
      expiryMonth: monthOf(notAfter),
      subject: `CN=device-${i}`,
      issuer: 'CN=Fleet CA',
      issuerKey: 'issuer:cn=fleet ca',
      notBefore: new Date(now.getTime() - 365 * DAY).toISOString(),
      notAfter,
      weaknesses: [],
      usages: [{ kind: 'device', id: `device-${i}` }],
      raised: [],
      settled: false,
    });
  }
  return store;
}

const events: EventsPort = { publish: async (_e: DomainEvent[]) => undefined, close: async () => undefined };
const noDps = async (): Promise<EnrollmentsPort> => {
  throw new Error('device certificates are not rolled');
};

async function sweepBench(
  fleet: number,
): Promise<{ ms: number; returned: number; examined: number; raised: number; naiveMs: number; naiveReturned: number }> {
  const store = inventory(fleet);
  const deps = {
    store: async () => store,
    certificates: async () => new CosmosCertificateRepository(store),
    enrollments: noDps,
    events: async () => events,
  };
  const first = await sweepExpiries(deps, { now, horizons: DEFAULT_HORIZONS });
  const container = store.container(CONTAINERS.certificates.name);
  container.returned = 0;
  container.examined = 0;
  const t = performance.now();
  const steady = await sweepExpiries(deps, { now: new Date(now.getTime() + 3_600_000), horizons: DEFAULT_HORIZONS });
  const ms = performance.now() - t;
  const { returned, examined } = container;
  if (first.raised.length !== EXPIRING || steady.raised.length !== 0)
    throw new Error(`expected ${EXPIRING} findings then none, got ${first.raised.length} then ${steady.raised.length}`);

  // The naive sweep: every certificate, every hour.
  container.returned = 0;
  const n = performance.now();
  let due = 0;
  let token: string | undefined;
  do {
    const page = await container.query('SELECT * FROM c', {}, { maxItems: 1000, continuationToken: token });
    for (const c of page.items as unknown as CertificateRecord[])
      if (horizonToRaise(c.notAfter, c.raised, now, DEFAULT_HORIZONS) !== undefined) due++;
    token = page.continuationToken;
  } while (token);
  void due;
  return {
    ms,
    returned,
    examined,
    raised: first.raised.length,
    naiveMs: performance.now() - n,
    naiveReturned: container.returned,
  };
}

async function reconcileBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dpsl-sweep-'));
  const stack = await startLocalStack(loadLocalSettings(), {
    dataDir: dir,
    persistent: false,
    withStorage: false,
    quotas: { burstSeconds: 1 },
    log: () => undefined,
  });
  const services = await buildServices(stack.env);
  try {
    const stamp = new Date().toISOString();
    for (let i = 0; i < ENROLLMENTS; i++) {
      const thumb = (i + 1).toString(16).padStart(64, '0').toUpperCase();
      const notAfter = new Date(now.getTime() + (30 + (i % 700)) * DAY).toISOString();
      stack.simulator.state.enrollments.set(`dev-${i}`, {
        registrationId: `dev-${i}`,
        etag: '"1"',
        provisioningStatus: 'enabled',
        createdDateTimeUtc: stamp,
        lastUpdatedDateTimeUtc: stamp,
        attestation: {
          type: 'x509',
          x509: {
            clientCertificates: {
              primary: {
                info: {
                  subjectName: `CN=dev-${i}`,
                  sha1Thumbprint: thumb.slice(0, 40),
                  sha256Thumbprint: thumb,
                  issuerName: 'CN=Fleet CA',
                  notBeforeUtc: stamp,
                  notAfterUtc: notAfter,
                  serialNumber: String(i),
                  version: 3,
                },
              },
            },
          },
        },
      });
    }
    const ceiling = 1000 * PAGE; // DPS: 1,000 operations/min, one per page
    const throttledBefore = stack.simulator.throttled.dpsOperations;
    const t = performance.now();
    const inventoryStore = new MemoryStore(partitionKeys);
    const result = await reconcileInventory(
      {
        ...repositories({ store: async () => inventoryStore }),
        store: async () => inventoryStore,
        certificates: async () => new CosmosCertificateRepository(inventoryStore),
        enrollments: async () => services.enrollments,
        retry: { attempts: 100 },
      },
      { pageSize: PAGE, budgetMs: 60 * 60_000 },
    );
    const minutes = (performance.now() - t) / 60_000;
    const perMinute = (result.lastPassSeen ?? 0) / minutes;
    console.log(
      `  ${fmt(result.lastPassSeen ?? 0, 0)} enrollments reconciled in ${fmt(minutes * 60)} s (${result.pagesThisRun} pages, checkpointed after each): ${fmt(perMinute, 0)} enrollments/min, ${ratio(perMinute, ceiling)} of the ceiling (${fmt(ceiling, 0)}/min = 1,000 operations × ${PAGE} a page); ${stack.simulator.throttled.dpsOperations - throttledBefore} answers 429`,
    );
    if (result.lastPassSeen !== ENROLLMENTS)
      throw new Error(`expected ${ENROLLMENTS} enrollments, saw ${result.lastPassSeen}`);
  } finally {
    await services.events.close();
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(
    `\nExpiry sweep (horizons ${DEFAULT_HORIZONS.join('/')} days), steady state: an hour after the first sweep raised the ${fmt(EXPIRING, 0)} findings:`,
  );
  for (const fleet of [100_000, 1_000_000]) {
    const r = await sweepBench(fleet);
    console.log(
      `  fleet ${fmt(fleet, 0).padStart(9)}: sweep ${fmt(r.ms)} ms, ${fmt(r.returned, 0)} documents read (${fmt(r.examined, 0)} examined in the months it queried) | naive full scan ${fmt(r.naiveMs)} ms, ${fmt(r.naiveReturned, 0)} documents read | ${ratio(r.ms, r.naiveMs)} of the naive time, ${ratio(r.returned, r.naiveReturned)} of its reads`,
    );
  }
  console.log(`\nReconciliation through the simulated DPS (service SDK, real quota) into the inventory (in memory):`);
  await reconcileBench();
}

runBench(main);
