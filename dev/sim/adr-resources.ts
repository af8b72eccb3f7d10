/**
 * ARM's PUT (and PATCH) of each local ADR resource, checked as the spec and Microsoft's pages describe: one root and
 * at most three intermediates a namespace, one policy a CA, a validity of 7 to 90 days, create-only CA fields.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';

import { type CaMaterial, createCa } from './adr-pki';
import { AdrStore, type ArmResource, certificateFields, k, PROVIDER } from './adr-store';
import { HttpError } from './wire';

export class AdrResources extends AdrStore {
  putNamespace(id: string, name: string, body: Partial<ArmResource>): { resource: ArmResource; created: boolean } {
    const existing = this.namespace(name);
    const resource: ArmResource = {
      id,
      name,
      type: `${PROVIDER}/namespaces`,
      location: body.location ?? existing?.location ?? this.location,
      ...(body.tags ? { tags: body.tags } : {}),
      properties: { uuid: (existing?.properties.uuid as string) ?? randomUUID(), provisioningState: 'Succeeded' },
    };
    this.data.namespaces[k(name)] = resource;
    this.save();
    return { resource, created: !existing };
  }

  async putCa(
    id: string,
    ns: string,
    name: string,
    body: Partial<ArmResource>,
  ): Promise<{ resource: ArmResource; created: boolean }> {
    if (!this.namespace(ns)) throw new HttpError(404, 'ParentResourceNotFound', `Namespace ${ns} not found.`);
    const existing = this.ca(ns, name);
    const props = body.properties ?? {};
    const type = props.certificateAuthorityType;
    if (type !== 'Root' && type !== 'ICA')
      throw new HttpError(400, 'InvalidRequestContent', 'certificateAuthorityType must be Root or ICA.');
    if (props.keyType !== 'ECC') throw new HttpError(400, 'InvalidRequestContent', 'keyType must be ECC.');
    if (existing) {
      // certificateAuthorityType, keyType and issuer are create-only (visibility Create, Read): only tags change.
      if (existing.properties.certificateAuthorityType !== type)
        throw new HttpError(400, 'InvalidRequestContent', 'certificateAuthorityType cannot change.');
      existing.tags = body.tags ?? existing.tags;
      this.save();
      return { resource: existing, created: false };
    }
    const others = this.casOf(ns).map(([, r]) => r.properties.certificateAuthorityType);
    let issuer: { resourceId: string; material: CaMaterial } | undefined;
    if (type === 'Root') {
      if (others.includes('Root'))
        throw new HttpError(400, 'InvalidRequestContent', `Namespace ${ns} already has a root CA (one a namespace).`);
    } else {
      if (others.filter((t) => t === 'ICA').length >= 3)
        throw new HttpError(400, 'InvalidRequestContent', `Namespace ${ns} already has three intermediate CAs.`);
      const ref = props.issuer as { issuerType?: string; certificateAuthorityResourceId?: string } | undefined;
      if (ref?.issuerType !== 'Microsoft')
        throw new HttpError(
          400,
          'InvalidRequestContent',
          'Only issuer.issuerType Microsoft is served locally (External needs activate).',
        );
      const rootName = ref.certificateAuthorityResourceId?.split('/').pop() ?? '';
      const root = this.ca(ns, rootName);
      if (root?.properties.certificateAuthorityType !== 'Root')
        throw new HttpError(
          400,
          'InvalidRequestContent',
          'issuer.certificateAuthorityResourceId must name the root CA of the same namespace.',
        );
      issuer = { resourceId: ref.certificateAuthorityResourceId as string, material: this.material(ns, rootName) };
    }
    // Lifetimes as in the spec's examples: a root for ten years, an intermediate for five.
    const made = await createCa(`CN=${name}`, type === 'Root' ? 3650 : 1825, issuer?.material);
    writeFileSync(this.keyFile(ns, name), made.keyPem, { mode: 0o600 });
    const resource: ArmResource = {
      id,
      name,
      type: `${PROVIDER}/namespaces/certificateAuthorities`,
      location: body.location ?? this.location,
      ...(body.tags ? { tags: body.tags } : {}),
      properties: {
        provisioningState: 'Succeeded',
        uuid: randomUUID(),
        certificateAuthorityType: type,
        keyType: 'ECC',
        ...(issuer ? { issuer: { issuerType: 'Microsoft', certificateAuthorityResourceId: issuer.resourceId } } : {}),
        ...certificateFields(made.certPem),
      },
    };
    this.data.cas[k(ns, name)] = resource;
    this.save();
    return { resource, created: true };
  }

  putPolicy(
    id: string,
    ns: string,
    ca: string,
    name: string,
    body: Partial<ArmResource>,
  ): { resource: ArmResource; created: boolean } {
    if (!this.ca(ns, ca)) throw new HttpError(404, 'ParentResourceNotFound', `Certificate authority ${ca} not found.`);
    const existing = this.policy(ns, ca, name);
    if (!existing && this.policiesOf(ns, ca).length > 0)
      throw new HttpError(400, 'InvalidRequestContent', `Certificate authority ${ca} already has a policy (one a CA).`);
    const days = (body.properties?.certificate as { validityPeriodInDays?: unknown } | undefined)?.validityPeriodInDays;
    // Microsoft's pages: "The validity period ranges from 7 to 90 days" (concept-certificate-renewal).
    if (!Number.isInteger(days) || (days as number) < 7 || (days as number) > 90)
      throw new HttpError(
        400,
        'InvalidRequestContent',
        'certificate.validityPeriodInDays must be an integer from 7 to 90.',
      );
    const resource: ArmResource = {
      id,
      name,
      type: `${PROVIDER}/namespaces/certificateAuthorities/certificatePolicies`,
      properties: {
        provisioningState: 'Succeeded',
        uuid: (existing?.properties.uuid as string) ?? randomUUID(),
        certificate: { validityPeriodInDays: days },
      },
    };
    this.data.policies[k(ns, ca, name)] = resource;
    this.save();
    return { resource, created: !existing };
  }

  putDevice(
    id: string,
    ns: string,
    name: string,
    body: Partial<ArmResource>,
    patch = false,
  ): { resource: ArmResource; created: boolean } {
    if (!this.namespace(ns)) throw new HttpError(404, 'ParentResourceNotFound', `Namespace ${ns} not found.`);
    const existing = this.device(ns, name);
    if (patch && !existing) throw new HttpError(404, 'ResourceNotFound', `Registry device ${name} not found.`);
    const props = { ...(patch ? existing?.properties : {}), ...(body.properties ?? {}) };
    if (props.enablementState !== 'Enabled' && props.enablementState !== 'Disabled')
      throw new HttpError(400, 'InvalidRequestContent', 'properties.enablementState must be Enabled or Disabled.');
    const { provisioningState: _p, uuid: _u, ...writable } = props;
    const resource: ArmResource = {
      id,
      name,
      type: `${PROVIDER}/namespaces/registryDevices`,
      location: body.location ?? existing?.location ?? this.location,
      ...((body.tags ?? existing?.tags) ? { tags: body.tags ?? existing?.tags } : {}),
      etag: randomUUID(),
      properties: {
        ...writable,
        uuid: (existing?.properties.uuid as string) ?? randomUUID(),
        provisioningState: 'Succeeded',
      },
    };
    this.data.devices[k(ns, name)] = resource;
    this.save();
    return { resource, created: !existing };
  }
}
