/**
 * Issued certificates judged by their renewal point (80 % of validity by default), on a manual clock: a device past
 * it and not renewed is raised once; a renewal resolves it and is raised again only for the new certificate.
 */
import type { DeviceRegistryPort } from '../../../shared/certificates/device-registry';
import { type IssuedSweepDeps, sweepIssuedCertificates } from '../../../shared/certificates/issued-certificates';
import { issuedCertificatesView } from '../../../shared/certificates/issued-view';
import {
  parseRenewalPercent,
  readReportedCertificate,
  renewalPointOf,
  renewalState,
} from '../../../shared/certificates/rules/renewal';
import { CosmosIssuedCertificateRepository } from '../../../shared/certificates/store/cosmos-issued-certificates';
import { CONTAINERS } from '../../../shared/containers';
import type { HubTwin } from '../../../shared/dps-types';
import { listFindings } from '../../../shared/findings';
import { CosmosFindingRepository } from '../../../shared/findings/store/cosmos-findings';
import type { EventsPort, HubDirectory, HubRegistryPort } from '../../../shared/ports';
import { manualClock } from '../../support/manual-clock';
import { MemoryStore } from '../../support/memory-store';

const DAY = 86_400_000;
const HUB = 'hub-eu-1.azure-devices.net';
const start = Date.parse('2026-12-01T00:00:00Z');
const cert = (fromMs: number, days: number) => ({
  validFrom: new Date(fromMs).toISOString(),
  validUntil: new Date(fromMs + days * DAY).toISOString(),
});

describe('the renewal point', () => {
  it('is the given share of the validity, 80 % unless set', () => {
    const c = cert(start, 30);
    expect(renewalPointOf(c, 80).toISOString()).toBe(new Date(start + 24 * DAY).toISOString());
    expect(parseRenewalPercent(undefined)).toBe(80);
    expect(parseRenewalPercent('70')).toBe(70);
    expect(parseRenewalPercent('100')).toBe(80);
    expect(renewalState(c, new Date(start + 24 * DAY - 1), 80)).toBe('current');
    expect(renewalState(c, new Date(start + 24 * DAY), 80)).toBe('renewalDue');
    expect(renewalState(c, new Date(start + 30 * DAY), 80)).toBe('expired');
  });

  it('reads what a device reports, and nothing that is not two ordered dates', () => {
    const c = cert(start, 30);
    expect(readReportedCertificate({ certificate: { ...c, thumbprint: 'ab:'.repeat(31) + 'ab' } })).toEqual({
      ...c,
      thumbprint: 'AB'.repeat(32),
    });
    expect(
      readReportedCertificate({ certificate: { validFrom: c.validUntil, validUntil: c.validFrom } }),
    ).toBeUndefined();
    expect(readReportedCertificate({ certificate: { validFrom: 'soon', validUntil: c.validUntil } })).toBeUndefined();
    expect(readReportedCertificate({ temperature: 21 })).toBeUndefined();
  });
});

describe('the issued-certificate sweep', () => {
  const clock = manualClock(start);
  const store = new MemoryStore(Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath])));
  const published: Array<{ type: string }> = [];
  const twins = new Map<string, HubTwin>();
  const report = (deviceId: string, certificate?: object) =>
    twins.set(deviceId, { deviceId, properties: { reported: certificate ? { certificate } : {} } });
  const hub = {
    hostName: HUB,
    queryTwins: async () => ({ items: [...twins.values()], continuationToken: undefined }),
  } as unknown as HubRegistryPort;
  const deps: IssuedSweepDeps = {
    hubs: async () => ({ hostNames: () => [HUB], hub: () => hub }) as HubDirectory,
    issued: async () => new CosmosIssuedCertificateRepository(store),
    store: async () => store,
    findings: async () => new CosmosFindingRepository(store),
    events: async () =>
      ({ publish: async (e: Array<{ type: string }>) => void published.push(...e) }) as unknown as EventsPort,
  };
  const sweep = () => sweepIssuedCertificates(deps, { now: clock.now(), renewalPercent: 80 });
  const open = async () =>
    (await listFindings(new CosmosFindingRepository(store), { kind: 'expiry', suppressed: false })).findings;

  it('learns the devices’ certificates and raises nothing before the renewal point', async () => {
    report('dev-1', cert(start, 30));
    report('dev-2', cert(start, 90));
    report('dev-3'); // reports no certificate: not one of ours
    expect(await sweep()).toMatchObject({ devices: 2, learned: 2, raised: [] });
    clock.advance(24 * DAY - 1);
    expect((await sweep()).raised).toEqual([]);
  });

  it('raises a device past its renewal point once, however many sweeps follow', async () => {
    clock.advance(1);
    const first = await sweep();
    expect(first.raised).toEqual([expect.stringMatching(/^renewal\.hub-eu-1\.dev-1\./)]);
    clock.advance(3 * DAY);
    expect((await sweep()).raised).toEqual([]);
    clock.advance(10 * DAY); // expired too: still the one finding for this certificate
    expect((await sweep()).raised).toEqual([]);
    const findings = await open();
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      id: first.raised[0],
      code: 'CERT_RENEWAL_OVERDUE',
      device: { hub: HUB, deviceId: 'dev-1' },
      certificate: { renewalPoint: new Date(start + 24 * DAY).toISOString() },
    });
    expect(published.filter((e) => e.type === 'certificate.renewalOverdue')).toHaveLength(1);
    // A raise that crashed before its record was written is not raised twice either.
    const doc = await store
      .container(CONTAINERS.checkpoints.name)
      .read('issued.hub-eu-1.dev-1', 'issued.hub-eu-1.dev-1');
    expect(doc).toMatchObject({ openFinding: first.raised[0] });
  });

  it('a renewal resolves the finding; the new certificate is judged on its own renewal point', async () => {
    const renewedAt = clock.now().getTime();
    report('dev-1', cert(renewedAt, 30));
    const after = await sweep();
    expect(after).toMatchObject({ renewed: 1, raised: [] });
    expect(after.resolved).toHaveLength(1);
    expect(await open()).toEqual([]);
    expect(published.filter((e) => e.type === 'certificate.renewed')).toHaveLength(1);
    clock.advance(24 * DAY);
    const next = await sweep();
    expect(next.raised).toHaveLength(1);
    expect(next.raised[0]).not.toBe(after.resolved[0]);
  });

  it('the console lists each device’s certificate: policy from ADR by its issuer, renewal point, renewals seen', async () => {
    report('dev-2', { ...cert(start, 90), issuer: 'CN = demo-ica' });
    await sweep();
    const registry = {
      certificateAuthorities: async () => [
        { namespaceName: 'ns', name: 'demo-root', type: 'Root', subject: 'CN=demo-root' },
        { namespaceName: 'ns', name: 'demo-ica', type: 'ICA', subject: 'CN=demo-ica' },
      ],
      certificatePolicies: async (_ns: string, ca: string) =>
        ca === 'demo-ica'
          ? [{ namespaceName: 'ns', certificateAuthorityName: 'demo-ica', certificatePolicyName: 'p-1' }]
          : [],
    } as unknown as DeviceRegistryPort;
    const view = await issuedCertificatesView(
      { issued: deps.issued, deviceRegistry: async () => registry, adrNamespace: 'ns' },
      { now: clock.now(), renewalPercent: 80, pageSize: 10 },
    );
    const byDevice = Object.fromEntries(view.items.map((c) => [c.deviceId, c]));
    expect(byDevice['dev-1']).toMatchObject({
      renewals: 1,
      renewedAt: expect.any(String),
      state: 'renewalDue',
      overdue: true,
    });
    expect(byDevice['dev-1']).not.toHaveProperty('policy'); // it reports no issuer
    expect(byDevice['dev-2']).toMatchObject({
      policy: 'ns/demo-ica/p-1',
      renewals: 0,
      state: 'current',
      renewalPoint: new Date(start + 72 * DAY).toISOString(),
    });
  });
});
