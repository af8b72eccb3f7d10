/**
 * The trust path's pure rules, tried from the attacker's side: a compromised CA refused wherever it sits in the chain
 * DPS shows the webhook (and a sibling CA not), a CA named by its certificate, what an alert may refuse on its own,
 * who approves which plan, and an incident that found nothing never passing for contained.
 */
import { X509Certificate } from 'node:crypto';

import { issue, type Issued } from '../../../dev/pki';
import { parseAllocationRequest } from '../../../shared/allocation/rules/contract';
import { deniedBy, nameKey, snapshotOf } from '../../../shared/allocation/rules/deny-list';
import { infoOf } from '../../../shared/allocation/rules/x509-context';
import { approvalFor } from '../../../shared/incidents/rules/approval';
import { directDenyEntries, immediateDenyEntries } from '../../../shared/incidents/rules/deny-entries';
import { type IncidentRequest, parseIncident } from '../../../shared/incidents/rules/incident';
import { foundNothing, planIncident } from '../../../shared/incidents/rules/plan';
import type { CompromisedCa, Target } from '../../../shared/incidents/rules/resolution';

let root: Issued;
let line9: Issued;
let line8: Issued;
let device9: Issued;
let device8: Issued;
beforeAll(async () => {
  root = await issue({ subject: 'CN=Fabrikam Root CA', isCa: true });
  line9 = await issue({ subject: 'CN=Fabrikam Line 9 CA', isCa: true, issuer: root });
  line8 = await issue({ subject: 'CN=Fabrikam Line 8 CA', isCa: true, issuer: root });
  device9 = await issue({ subject: 'CN=dev-9', issuer: line9 });
  device8 = await issue({ subject: 'CN=dev-8', issuer: line8 });
});

const info = (c: Issued) => infoOf(new X509Certificate(c.certPem));
const caOf = (c: Issued): CompromisedCa => {
  const i = info(c);
  return {
    sha1Thumbprint: i.sha1Thumbprint,
    sha256Thumbprint: i.sha256Thumbprint,
    subject: i.subjectName,
    issuer: i.issuerName,
    pem: c.certPem,
    source: 'incident',
  };
};
/** What DPS sends the webhook for a group device: its certificate and the group's signer. */
const registration = (device: Issued, signer: Issued) => {
  const parsed = parseAllocationRequest({
    enrollmentGroup: { enrollmentGroupId: 'g', attestation: { type: 'x509' } },
    deviceRuntimeContext: {
      registrationId: 'dev',
      x509: { certificateInfo: info(device), enrollmentGroupId: 'g', signingCertificateInfo: info(signer) },
    },
    linkedHubs: ['hub-1.azure-devices.net'],
  });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};
const request = (scope: IncidentRequest['scope']): IncidentRequest => ({
  id: 'inc',
  reason: 'key leaked',
  mode: 'contain',
  scope,
});
const denyOf = (ca: CompromisedCa) => snapshotOf(directDenyEntries(request({}), [], ca), Date.now());

describe('a compromised CA is refused wherever it sits in the chain the webhook is shown', () => {
  test('an intermediate, its devices verified by the root group: refused by the leaf issuer; its sibling is not', () => {
    const deny = denyOf(caOf(line9));
    expect(deniedBy(deny, registration(device9, root))).toMatchObject({ reason: 'key leaked' });
    expect(deniedBy(deny, registration(device8, root))).toBeUndefined();
  });

  test('the root, with groups verified by its intermediates or by itself: refused through the signer', () => {
    const deny = denyOf(caOf(root));
    expect(deniedBy(deny, registration(device9, line9))).toBeDefined(); // the signer was issued by the root
    expect(deniedBy(deny, registration(device8, root))).toBeDefined(); // the signer is the root
  });

  test('a CA known by its thumbprint alone still refuses the group it signs for', () => {
    const { sha256Thumbprint } = caOf(line9);
    const deny = denyOf({ sha256Thumbprint, source: 'unknown' });
    expect(deniedBy(deny, registration(device9, line9))).toBeDefined();
    expect(deniedBy(deny, registration(device8, line8))).toBeUndefined();
  });
});

describe('the attacker-side review', () => {
  test("a certificate an alert names refuses that device's certificate only, never a group's signer", () => {
    // The alert names the root's thumbprint as if it were a device certificate: no group signed by the root is refused.
    const alert = immediateDenyEntries(
      { request: request({ certificateThumbprints: [info(root).sha256Thumbprint] }), source: 'alert' },
      [],
      undefined,
      100,
    );
    const deny = snapshotOf(alert, Date.now());
    expect(deniedBy(deny, registration(device9, root))).toBeUndefined();
    expect(deniedBy(deny, registration(device8, root))).toBeUndefined();
  });

  test("a CA name in DPS's order (CN first) is the same name as in the certificate (C first)", async () => {
    const ca = await issue({ subject: 'C=US, O=Contoso, CN=Leaked CA', isCa: true });
    const leaf = await issue({ subject: 'CN=dev-x', issuer: ca });
    const deny = denyOf(caOf(ca)); // its subject as node:crypto prints it: C=US, O=Contoso, CN=Leaked CA
    const parsed = parseAllocationRequest({
      enrollmentGroup: { enrollmentGroupId: 'g', attestation: { type: 'x509' } },
      deviceRuntimeContext: {
        registrationId: 'dev-x',
        x509: {
          certificateInfo: { ...info(leaf), issuerName: 'CN=Leaked CA, O=Contoso, C=US' },
          enrollmentGroupId: 'g',
          signingCertificateInfo: info(root),
        },
      },
      linkedHubs: ['hub-1.azure-devices.net'],
    });
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(deniedBy(deny, parsed.value)).toMatchObject({ reason: 'key leaked' });
    // Another CA of the same organisation is another name.
    expect(nameKey('CN=Leaked CA, O=Contoso, C=US')).not.toBe(nameKey('CN=Other CA, O=Contoso, C=US'));
    expect(nameKey('CN=A, O=Contoso\\, Inc.')).toBe(nameKey('O=Contoso\\, Inc., CN=A'));
  });

  test('a group the scope names that DPS does not have is not planned as disabled: nothing found', () => {
    const { plan } = planIncident(request({ enrollmentGroupId: 'no-such-group' }), [], [], 1000, {
      source: 'http',
      missingGroups: ['no-such-group'],
    });
    expect(plan.groupsToDisable).toEqual([]);
    expect(foundNothing(plan)).toBe(true);
  });

  test('a CA another incident already disallows in DPS is planned as held, even known by thumbprint alone', () => {
    const { sha256Thumbprint } = caOf(line9);
    const { plan } = planIncident(request({ issuerThumbprint: sha256Thumbprint }), [], [], 1000, {
      ca: { sha256Thumbprint, disallowedInDps: true, source: 'enrollmentGroup' },
      source: 'http',
    });
    expect(plan.disallowCa).toMatchObject({ thumbprint: sha256Thumbprint });
  });
});

describe('an incident names a CA by its certificate', () => {
  test('the PEM is kept normalised and its SHA-256 thumbprint becomes issuerThumbprint', () => {
    const parsed = parseIncident({ ...request({}), scope: { caCertificate: `\n${line9.certPem}\n` } });
    expect(parsed).toMatchObject({
      ok: true,
      value: { scope: { caCertificate: line9.certPem.trim() + '\n', issuerThumbprint: info(line9).sha256Thumbprint } },
    });
  });

  test('a device certificate, a bundle, garbage or a thumbprint of another certificate are refused', () => {
    const refused = (scope: Record<string, unknown>) => parseIncident({ ...request({}), scope });
    expect(refused({ caCertificate: device9.certPem })).toMatchObject({ ok: false, reason: /not a CA certificate/ });
    expect(refused({ caCertificate: line9.certPem + root.certPem })).toMatchObject({
      ok: false,
      reason: /several certificates/,
    });
    expect(refused({ caCertificate: 'not a certificate' })).toMatchObject({ ok: false, reason: /not an X.509/ });
    expect(refused({ caCertificate: 'A'.repeat(20_000) })).toMatchObject({ ok: false, reason: /at most/ });
    expect(
      refused({ caCertificate: line9.certPem, issuerThumbprint: info(root).sha1Thumbprint.toLowerCase() }),
    ).toMatchObject({ ok: false, reason: /not the thumbprint of scope.caCertificate/ });
    expect(
      refused({ caCertificate: line9.certPem, issuerThumbprint: info(line9).sha1Thumbprint.toLowerCase() }),
    ).toMatchObject({ ok: true });
  });
});

describe('an alert refuses only what it names one by one', () => {
  const scope = {
    registrationIds: ['a', 'b', 'c'],
    certificateThumbprints: ['AA'.repeat(20)],
    enrollmentGroupId: 'whole-fleet',
    lot: { manufacturer: 'acme-tpm', lot: 'L1' },
    issuerThumbprint: 'BB'.repeat(32),
  };
  const ca: CompromisedCa = { sha256Thumbprint: 'BB'.repeat(32), subject: 'CN=Root', source: 'enrollmentGroup' };
  const groups = [{ enrollmentGroupId: 'whole-fleet', caSubject: 'CN=Root', relation: 'signer' as const }];

  test('no group, CA or lot is refused before an admin approves; at most the cap of named identities', () => {
    const alert = immediateDenyEntries({ request: request(scope), source: 'alert' }, groups, ca, 3);
    expect(alert.map((e) => `${e.kind}:${e.value}`)).toEqual([
      `thumbprint:${'AA'.repeat(20)}`,
      'registrationId:a',
      'registrationId:b',
    ]);
    const operator = immediateDenyEntries({ request: request(scope), source: 'http' }, groups, ca, 3);
    expect(operator.map((e) => e.kind).sort()).toEqual(
      [
        'caThumbprint',
        'enrollmentGroupId',
        'issuer',
        'registrationId',
        'registrationId',
        'registrationId',
        'thumbprint',
      ].sort(),
    );
  });

  test("an alert's plan starts with the refusals it could not make on its own", () => {
    const { steps } = planIncident(request(scope), groups, [[]], 1000, { ca, source: 'alert' });
    expect(steps[0]).toMatchObject({ kind: 'refuse' });
    expect(planIncident(request(scope), groups, [[]], 1000, { ca, source: 'http' }).steps[0].kind).not.toBe('refuse');
  });
});

describe('who lets a plan run', () => {
  const rules = { maxDevices: 10, fourEyes: true };
  const device = (i: number): Target => ({ registrationId: `d${i}`, deviceId: `d${i}`, hub: 'h', via: 'individual' });
  const planOf = (scope: IncidentRequest['scope'], targets: Target[], ca?: CompromisedCa) =>
    planIncident(request(scope), [], [targets], 1000, { ca, source: 'http' }).plan;

  test('a group with no registrations is still a group: another admin approves it', () => {
    const plan = planOf({ enrollmentGroupId: 'empty-group' }, []);
    expect(plan.devices).toBe(0);
    expect(approvalFor(plan, 'http', rules)).toMatchObject({ auto: false, otherAdmin: true });
    expect(foundNothing(plan)).toBe(false);
  });

  test('a CA disallowed in DPS, or more devices than the setting, needs another admin too', () => {
    expect(approvalFor(planOf({}, [], caOf(line9)), 'http', rules)).toMatchObject({ auto: false, otherAdmin: true });
    const eleven = planOf(
      {},
      Array.from({ length: 11 }, (_, i) => device(i)),
    );
    expect(approvalFor(eleven, 'http', rules)).toMatchObject({ auto: false, otherAdmin: true });
    expect(approvalFor(eleven, 'http', { ...rules, fourEyes: false })).toMatchObject({
      auto: false,
      otherAdmin: false,
    });
  });

  test('a small plan of single devices runs at once over HTTP, never from an alert', () => {
    const small = planOf({}, [device(1), device(2)]);
    expect(approvalFor(small, 'http', rules)).toMatchObject({ auto: true });
    expect(approvalFor(small, 'alert', rules)).toMatchObject({ auto: false, otherAdmin: false });
  });

  test('a scope that matched nothing is said to be so, with what was not found', () => {
    const missing: Target[] = [
      { registrationId: 'ghost-1', via: 'none' },
      { registrationId: 'ghost-2', via: 'none' },
    ];
    const plan = planOf({ registrationIds: ['ghost-1', 'ghost-2'] }, missing);
    expect(plan.notFound).toEqual({ count: 2, sample: ['ghost-1', 'ghost-2'] });
    expect(foundNothing(plan)).toBe(true);
    expect(foundNothing(planOf({}, [...missing, device(1)]))).toBe(false);
    expect(foundNothing(planOf({ issuerThumbprint: 'AA'.repeat(20) }, []))).toBe(true);
  });
});
