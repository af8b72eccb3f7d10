import { randomEk } from '../../../dev/ek-factory';
import { parseImportConfig } from '../../../shared/auth';
import { certificatePolicyProblem, readCertificatePolicy } from '../../../shared/certificate-policy';
import { importConfigSource } from '../../../shared/imports/config';
import { enrollmentOf } from '../../../shared/imports/rules/enrollment';
import { validateRow, type ValidRow } from '../../../shared/imports/rules/row';

const DEFAULT = { namespaceName: 'acme-ns', certificateAuthorityName: 'acme-ica', certificatePolicyName: 'acme-30d' };
const OTHER = { namespaceName: 'lab-ns', certificateAuthorityName: 'lab-ica', certificatePolicyName: 'lab-7d' };
const ek = randomEk().toString('base64');
const rules = { manufacturerId: 'acme-tpm', registrationIdPrefix: 'acme-', certificatePolicy: DEFAULT };
const row = (fields: Record<string, string>) =>
  validateRow({ line: 4, fields: { endorsementKey: ek, ...fields } }, rules);

describe('the three names', () => {
  it('go all three or none, each to the DPS 2026-11-01 pattern', () => {
    expect(certificatePolicyProblem({})).toBeUndefined();
    expect(certificatePolicyProblem(DEFAULT)).toBeUndefined();
    expect(certificatePolicyProblem({ namespaceName: 'acme-ns' })).toMatch(/go together: only namespaceName/);
    expect(certificatePolicyProblem({ ...DEFAULT, namespaceName: 'Acme' })).toMatch(/namespaceName "Acme"/);
    expect(certificatePolicyProblem({ ...DEFAULT, namespaceName: 'ns-' })).toMatch(/namespaceName/);
    expect(certificatePolicyProblem({ ...DEFAULT, certificatePolicyName: 'p' })).toMatch(/certificatePolicyName "p"/);
    expect(certificatePolicyProblem({ ...DEFAULT, certificateAuthorityName: 'a'.repeat(64) })).toMatch(/3–63/);
  });

  it('read from one string: namespace/authority/policy, none, or nothing', () => {
    expect(readCertificatePolicy('acme-ns/acme-ica/acme-30d')).toEqual({ ok: true, given: true, policy: DEFAULT });
    expect(readCertificatePolicy(' NONE ')).toEqual({ ok: true, given: true, policy: undefined });
    expect(readCertificatePolicy('')).toEqual({ ok: true, given: false, policy: undefined });
    expect(readCertificatePolicy('acme-ns/acme-ica')).toMatchObject({
      ok: false,
      reason: /namespace\/certificateAuthority\/policy/,
    });
    expect(readCertificatePolicy('acme-ns/acme_ica/acme-30d')).toMatchObject({
      ok: false,
      reason: /certificateAuthorityName/,
    });
  });
});

describe('a row names a certificate policy', () => {
  it('by its column over the default, none to name nothing, and the default when the column is empty', () => {
    expect((row({ certificatePolicy: 'lab-ns/lab-ica/lab-7d' }) as ValidRow).certificatePolicy).toEqual(OTHER);
    expect(row({ certificatePolicy: 'none' })).not.toHaveProperty('certificatePolicy');
    expect((row({}) as ValidRow).certificatePolicy).toEqual(DEFAULT);
    expect((row({ certificatePolicy: ' ' }) as ValidRow).certificatePolicy).toEqual(DEFAULT);
    // The column is ours, never a maker's twin tag.
    expect((row({ certificatePolicy: 'lab-ns/lab-ica/lab-7d' }) as ValidRow).tags).toEqual({});
  });

  it('is refused with its line and reason when the names are bad', () => {
    expect(row({ certificatePolicy: 'lab-ns/lab-ica' })).toMatchObject({
      status: 'invalid',
      line: 4,
      reason: /certificatePolicy/,
    });
    expect(row({ certificatePolicy: 'LAB/lab-ica/lab-7d' })).toMatchObject({
      status: 'invalid',
      reason: /namespaceName "LAB"/,
    });
  });

  it('is written on the enrollment as the three names, and the webhook is asked under 2026-11-01 to see them', () => {
    const allocation = { webhookUrl: 'https://app/api/allocate?code=k', apiVersion: '2021-10-01' };
    const named = enrollmentOf(row({}) as ValidRow, 'acme-tpm', 'job-1', allocation);
    expect(named).toMatchObject({ ...DEFAULT, customAllocationDefinition: { apiVersion: '2026-11-01' } });
    const plain = enrollmentOf(row({ certificatePolicy: 'none' }) as ValidRow, 'acme-tpm', 'job-1', allocation);
    expect(plain).not.toHaveProperty('namespaceName');
    expect(plain.customAllocationDefinition).toEqual(allocation);
  });
});

describe('the maker’s default and the job’s', () => {
  const config = {
    manufacturers: [
      { id: 'acme-tpm', registrationIdPrefix: 'acme-', certificatePolicy: DEFAULT },
      { id: 'globex', registrationIdPrefix: 'globex-' },
    ],
  };

  it('the job’s policy (or none) wins over the maker’s default', async () => {
    const loaded = await importConfigSource({ read: async () => ({ doc: config }) } as never)();
    const [acme, globex] = loaded.config.manufacturers;
    expect(loaded.rulesFor(acme).certificatePolicy).toEqual(DEFAULT);
    expect(loaded.rulesFor(acme, { certificatePolicy: OTHER }).certificatePolicy).toEqual(OTHER);
    expect(loaded.rulesFor(acme, { certificatePolicy: 'none' })).not.toHaveProperty('certificatePolicy');
    expect(loaded.rulesFor(globex)).not.toHaveProperty('certificatePolicy');
  });

  it('a default with a missing or bad name is refused at load', () => {
    const broken = (p: object) => ({
      manufacturers: [{ id: 'acme-tpm', registrationIdPrefix: 'acme-', certificatePolicy: p }],
    });
    expect(() => parseImportConfig(broken({ namespaceName: 'acme-ns' }))).toThrow(/certificateAuthorityName/);
    expect(() => parseImportConfig(broken({ ...DEFAULT, certificatePolicyName: '-x' }))).toThrow(
      /certificatePolicyName/,
    );
  });
});
