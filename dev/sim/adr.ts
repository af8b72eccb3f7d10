/**
 * The local Azure Device Registry (Microsoft.DeviceRegistry, api-version 2026-11-01): namespaces, their root CA and up
 * to three intermediate CAs, one certificate policy per CA, registry devices, and the async operations
 * `revokeAndRotate` starts. Resources keep the spec's ARM shapes (adr-routes.ts serves them); the CA keys live under the
 * stack's data directory (`.data/adr/keys`), as dev/pki.ts keeps the local CA's.
 *
 * What DPS asks of it (dps-device.ts): the issuing CA and validity of a policy named by an enrollment, a registry device
 * for every device provisioned through such an enrollment (and whether it is enabled), and which CAs the linked hubs
 * trust. Credential sync is immediate here: every simulated hub trusts every current issuing CA of every namespace
 * (concept-certificate-issuance: "credential sync pushes the issuing CA certificate from ADR to your linked IoT Hubs").
 */
import { randomUUID, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';

import { type CaMaterial, checkCsr, createCa, derOf, issueLeaf } from './adr-pki';
import { AdrResources } from './adr-resources';
import { type AsyncOperation, certificateFields } from './adr-store';
import { HttpError } from './wire';

export const ADR_HOST = 'management.azure.com';
export const ADR_API_VERSION = '2026-11-01';

/** The three names an enrollment or group links an ADR policy with (DPS 2026-11-01). */
export interface AdrPolicyRef {
  namespaceName: string;
  certificateAuthorityName: string;
  certificatePolicyName: string;
}

/** ARM's error for the DPS side to report: a policy, CA or namespace that is not there. */
export class IssuanceProblem extends Error {}

export class LocalAdr extends AdrResources {
  /** Starts revokeAndRotate of an intermediate: a new key and certificate under the same resource; the old one is revoked. */
  revokeAndRotate(ns: string, ca: string): AsyncOperation {
    const resource = this.ca(ns, ca);
    if (!resource) throw new HttpError(404, 'ResourceNotFound', `Certificate authority ${ca} not found.`);
    if (resource.properties.certificateAuthorityType !== 'ICA')
      throw new HttpError(
        400,
        'InvalidRequestContent',
        'revokeAndRotate applies to a certificate authority of type ICA only.',
      );
    const op: AsyncOperation = {
      id: randomUUID(),
      name: '',
      status: 'InProgress',
      startTime: new Date().toISOString(),
      percentComplete: 0,
    };
    op.name = op.id;
    this.operations.set(op.id, op);
    resource.properties.provisioningState = 'Updating';
    const rootName = String(
      (resource.properties.issuer as { certificateAuthorityResourceId: string }).certificateAuthorityResourceId,
    )
      .split('/')
      .pop() as string;
    createCa(`CN=${ca}`, 1825, this.material(ns, rootName)).then(
      (made) => {
        this.data.revoked.push(resource.properties.certificatePem as string);
        writeFileSync(this.keyFile(ns, ca), made.keyPem, { mode: 0o600 });
        Object.assign(resource.properties, certificateFields(made.certPem), { provisioningState: 'Succeeded' });
        this.save();
        Object.assign(op, { status: 'Succeeded', percentComplete: 100, endTime: new Date().toISOString() });
      },
      (err: unknown) => {
        resource.properties.provisioningState = 'Failed';
        Object.assign(op, {
          status: 'Failed',
          endTime: new Date().toISOString(),
          error: { code: 'InternalServerError', message: String(err) },
        });
      },
    );
    return op;
  }

  /** The policy an enrollment names, or why it cannot issue. */
  private issuingPolicy(ref: AdrPolicyRef): { days: number; issuing: CaMaterial; root: CaMaterial } {
    const { namespaceName: ns, certificateAuthorityName: ca, certificatePolicyName: p } = ref;
    const policy = this.policy(ns, ca, p);
    if (!this.namespace(ns) || !this.ca(ns, ca) || !policy)
      throw new IssuanceProblem(`ADR policy ${ns}/${ca}/${p} does not exist.`);
    if (this.ca(ns, ca).properties.provisioningState !== 'Succeeded')
      throw new IssuanceProblem(`ADR certificate authority ${ns}/${ca} is being rotated.`);
    const root = this.casOf(ns).find(([, r]) => r.properties.certificateAuthorityType === 'Root');
    if (!root) throw new IssuanceProblem(`ADR namespace ${ns} has no root CA.`);
    const days = (policy.properties.certificate as { validityPeriodInDays: number }).validityPeriodInDays;
    return { days, issuing: this.material(ns, ca), root: this.material(ns, root[1].name) };
  }

  /** Signs a checked CSR by the named policy: the chain DPS returns, leaf → issuing CA → root, DER. */
  async issue(ref: AdrPolicyRef, csrBase64: string, registrationId: string): Promise<Buffer[]> {
    const { days, issuing, root } = this.issuingPolicy(ref);
    const csr = await checkCsr(csrBase64, registrationId);
    const leaf = await issueLeaf(csr, issuing, days);
    // A policy under the root itself issues leaf → root; under an intermediate, leaf → intermediate → root.
    return issuing.certPem === root.certPem
      ? [leaf, derOf(root.certPem)]
      : [leaf, derOf(issuing.certPem), derOf(root.certPem)];
  }

  /**
   * Renewal through the hub (concept-certificate-renewal, "Submit a new CSR directly to IoT Hub"): the device's policy is
   * the one of the CA whose current certificate issued the certificate it connected with (one policy a CA), so the new
   * chain comes from that CA's current key, valid for the policy's days. A certificate of a revoked intermediate names
   * no current CA: the device must provision again through DPS, as the page says of revocation. A registry device that
   * is Disabled is refused (assumed: the spec says only that it cannot provision again).
   */
  async renew(presented: X509Certificate, csrBase64: string, deviceId: string): Promise<Buffer[]> {
    const issuer = Object.entries(this.data.cas).find(([, r]) => {
      if (r.properties.provisioningState !== 'Succeeded') return false;
      const ca = new X509Certificate(r.properties.certificatePem as string);
      return presented.checkIssued(ca) && presented.verify(ca.publicKey);
    });
    if (!issuer)
      throw new IssuanceProblem('The certificate presented was not issued by a current ADR certificate authority.');
    const [ns, ca] = issuer[0].split('/');
    const [policy] = this.policiesOf(ns, ca);
    if (!policy) throw new IssuanceProblem(`ADR certificate authority ${ns}/${ca} has no certificate policy.`);
    if (this.device(ns, registryDeviceName(deviceId))?.properties.enablementState === 'Disabled')
      throw new IssuanceProblem(`Registry device ${deviceId} is disabled in namespace ${ns}.`);
    const ref = { namespaceName: ns, certificateAuthorityName: ca, certificatePolicyName: policy[0].split('/')[2] };
    return this.issue(ref, csrBase64, deviceId);
  }

  /** Whether a device DPS provisions through `ref` may proceed: creates its registry device (Enabled) on first sight. */
  admitDevice(ns: string, deviceId: string): 'Enabled' | 'Disabled' {
    const name = registryDeviceName(deviceId);
    const existing = this.device(ns, name);
    if (existing) return existing.properties.enablementState as 'Enabled' | 'Disabled';
    const nsResource = this.namespace(ns);
    if (!nsResource) return 'Enabled';
    this.putDevice(`${nsResource.id}/registryDevices/${name}`, ns, name, {
      properties: { enablementState: 'Enabled', externalDeviceId: deviceId },
    });
    return 'Enabled';
  }

  /**
   * Whether a hub would accept `chain` (leaf first, DER) in TLS: some current issuing CA of a namespace (what credential
   * sync put on the hub) issued the leaf, and no revoked intermediate is in it. The hubs' MQTT endpoint asks it at every
   * CONNECT of a device authenticated by CA (simulator.ts), so a rotation refuses the revoked CA's certificates at once.
   */
  hubTrusts(chain: Buffer[], now = Date.now()): boolean {
    const certs = chain.map((d) => new X509Certificate(d));
    const [leaf] = certs;
    if (!leaf || new Date(leaf.validTo).getTime() < now || new Date(leaf.validFrom).getTime() > now) return false;
    const revoked = this.data.revoked.map((pem) => new X509Certificate(pem));
    if (certs.some((c) => revoked.some((r) => r.fingerprint256 === c.fingerprint256))) return false;
    return Object.values(this.data.cas)
      .filter((r) => r.properties.provisioningState === 'Succeeded')
      .map((r) => new X509Certificate(r.properties.certificatePem as string))
      .some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  }
}

/** A registry device name ARM accepts (`^[0-9a-zA-Z][a-zA-Z0-9-]*$`, 3–63): other characters become '-' (assumed). */
export function registryDeviceName(deviceId: string): string {
  return deviceId
    .replace(/[^a-zA-Z0-9-]/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .padEnd(3, '0');
}
