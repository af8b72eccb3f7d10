/**
 * What DPS does once a device is attested: the enrollment's allocation policy picks the hub (`custom` calls the
 * enrollment's webhook as DPS does, custom-allocation.ts), an ADR policy's CA issues the device's certificate, the hub
 * identity and twin are made (or moved, as the reprovision policy says) and the registration record is written.
 */
import { createHash } from 'node:crypto';

import type { DeviceRegistrationState, HubDevice } from '../../shared/dps-types';
import { type AdrPolicyRef, IssuanceProblem, type LocalAdr } from './adr';
import { policyOf } from './adr-link';
import { CsrProblem } from './adr-pki';
import { admittedBy, type AttestationContext, type Attested } from './attestation';
import { type Allocation, callWebhook, enrollmentForWebhook, type WebhookRetry } from './custom-allocation';
import { deleteDevice, storeDevice } from './iothub';
import type { HubData, RegistrationRecord } from './state';
import { tpmHubIdentity } from './tpm-attestation';
import { newEtag } from './wire';

/** What allocation reads and writes of the simulator. */
export interface AllocationContext extends AttestationContext {
  /** The local ADR: the policies enrollments name, and the registry devices of their namespaces. */
  adr: LocalAdr;
  linkedHubs: () => string[];
  hub: (hostName: string) => HubData | undefined;
  webhook: { timeoutMs: number; retry: WebhookRetry };
  changed: () => void;
}

/** A finished registration, as the device is answered. */
export interface Registered {
  status: DeviceRegistrationState['status'];
  registrationState: DeviceRegistrationState;
}

/** Rendezvous hashing, as a stand-in for DPS's "evenly weighted distribution". */
function hashed(registrationId: string, hubs: string[]): string {
  const score = (hub: string) =>
    createHash('sha256').update(`${hub.toLowerCase()}|${registrationId.toLowerCase()}`).digest().readUInt32BE(0);
  return [...hubs].sort((a, b) => score(b) - score(a))[0];
}

/** Allocates an attested device (one that sent a CSR under an ADR policy gets its certificate chain too) and records it. */
export async function allocate(
  ctx: AllocationContext,
  attested: Attested,
  registrationId: string,
  devicePayload: unknown,
  issuance?: { policy: AdrPolicyRef; csr: string },
): Promise<Registered | undefined> {
  const { source } = attested;
  const enrollment = source.individual ?? source.group;
  const key = registrationId.toLowerCase();
  const existing = ctx.state.registrations.get(key);
  const now = new Date().toISOString();
  const record = (fields: Partial<RegistrationRecord> & Pick<RegistrationRecord, 'status'>): Registered | undefined => {
    const state: RegistrationRecord = {
      registrationId,
      createdDateTimeUtc: existing?.createdDateTimeUtc ?? now,
      lastUpdatedDateTimeUtc: now,
      etag: newEtag(),
      enrollmentGroupId: source.group?.enrollmentGroupId,
      ...fields,
    };
    ctx.state.registrations.set(key, state);
    ctx.changed();
    const { enrollmentGroupId: _g, ...registrationState } = state;
    return { status: state.status, registrationState };
  };

  // DPS checks individual enrollments before groups: a disabled one under this ID shuts the device out; so does a
  // disabled entry holding a certificate of the device's chain (attestation.ts).
  const blocking = ctx.state.enrollments.get(key);
  if (
    blocking?.provisioningStatus === 'disabled' ||
    enrollment.provisioningStatus === 'disabled' ||
    attested.disallowedBy
  ) {
    return record({ status: 'disabled', assignedHub: existing?.assignedHub, deviceId: existing?.deviceId });
  }

  const deviceIdOf = source.individual?.deviceId || registrationId;
  // A device provisioned through an enrollment that names an ADR policy is registered in its namespace; a disabled
  // registry device "cannot … reprovision" (RegistryDevicePropertiesBase.enablementState).
  const linkedPolicy = policyOf(enrollment);
  if (linkedPolicy && ctx.adr.admitDevice(linkedPolicy.namespaceName, deviceIdOf) === 'Disabled')
    return record({ status: 'disabled', assignedHub: existing?.assignedHub, deviceId: existing?.deviceId });

  const allLinked = ctx.linkedHubs();
  let linked = enrollment.iotHubs?.length ? enrollment.iotHubs : allLinked;
  const policy = enrollment.reprovisionPolicy ?? {};
  const current = existing?.status === 'assigned' ? existing.assignedHub : undefined;
  if (current && policy.updateHubAssignment === false) linked = [current];
  const deviceId = source.individual?.deviceId || registrationId;

  let allocation: Allocation;
  if (enrollment.allocationPolicy === 'custom') {
    const runtime: Record<string, unknown> = { registrationId, ...attested.runtime };
    if (current) Object.assign(runtime, { currentIotHubHostName: current, currentDeviceId: existing?.deviceId });
    if (devicePayload !== undefined) runtime.payload = devicePayload;
    const request = {
      [source.individual ? 'individualEnrollment' : 'enrollmentGroup']: enrollmentForWebhook(enrollment),
      deviceRuntimeContext: runtime,
      linkedHubs: linked,
    };
    allocation = await callWebhook(ctx, source, request, linked);
  } else if (current && policy.updateHubAssignment === false) {
    allocation = { hub: current };
  } else if (enrollment.allocationPolicy === 'static') {
    allocation = { hub: enrollment.iotHubHostName ?? linked[0] };
  } else {
    allocation = { hub: hashed(registrationId, linked) };
  }
  if (allocation.error || !allocation.hub)
    return record({
      status: 'failed',
      ...(allocation.error ?? { errorCode: 400207, errorMessage: 'No IoT hub could be chosen.' }),
    });

  const target = ctx.hub(allocation.hub);
  if (!target)
    return record({ status: 'failed', errorCode: 400207, errorMessage: `IoT hub ${allocation.hub} is not linked.` });
  // The policy's issuing CA signs before the hub identity is made: a policy that cannot issue leaves no identity behind.
  let chain: Buffer[] | undefined;
  if (issuance) {
    try {
      chain = await ctx.adr.issue(issuance.policy, issuance.csr, registrationId);
    } catch (err) {
      if (!(err instanceof IssuanceProblem || err instanceof CsrProblem)) throw err;
      return record({ status: 'failed', errorCode: 400004, errorMessage: err.message });
    }
  }
  const initialTwin = allocation.initialTwin ?? enrollment.initialTwin;
  const moved = !!current && current.toLowerCase() !== allocation.hub.toLowerCase();
  const previous = moved ? ctx.hub(current)?.twins.get(deviceId.toLowerCase()) : undefined;
  const reset = !current || (moved && policy.migrateDeviceData === false);
  const tpmIdentity = attested.tpm && tpmHubIdentity(attested.tpm, `${allocation.hub}/devices/${deviceId}`);
  storeDevice(
    target,
    {
      deviceId,
      authentication: chain ? CA_AUTHENTICATION : (tpmIdentity?.authentication ?? attested.auth),
      capabilities: enrollment.capabilities,
    },
    target.devices.get(deviceId.toLowerCase()),
  );
  const twin = target.twins.get(deviceId.toLowerCase());
  if (twin) {
    const base = reset ? initialTwin : moved ? previous : undefined;
    if (base)
      target.twins.set(deviceId.toLowerCase(), {
        ...twin,
        etag: newEtag(),
        tags: { ...(base.tags ?? {}) },
        properties: { desired: { ...(base.properties?.desired ?? {}) }, reported: {} },
      });
  }
  // DPS's published substatus: a device provisioned again to the hub it had is `reprovisionedToInitialAssignment`;
  // one moved is `deviceDataMigrated` or `deviceDataReset`, and its identity leaves the old hub.
  if (moved) {
    const old = ctx.hub(current);
    if (old) deleteDevice(old, existing?.deviceId ?? deviceId);
  }
  const substatus = !current
    ? 'initialAssignment'
    : !moved
      ? 'reprovisionedToInitialAssignment'
      : policy.migrateDeviceData !== false
        ? 'deviceDataMigrated'
        : 'deviceDataReset';
  const done = record({
    status: 'assigned',
    substatus,
    assignedHub: allocation.hub,
    deviceId,
    payload: allocation.payload,
  });
  // Only the device sees these, in its own answer: the service API's registration state has neither.
  if (done) Object.assign(done.registrationState, admittedBy(attested));
  if (done && tpmIdentity) done.registrationState.tpm = { authenticationKey: tpmIdentity.authenticationKey };
  // The chain goes to the device in this answer only: the status lookup and the service API never show it.
  if (done && chain)
    Object.assign(done.registrationState, { issuedCertificateChain: chain.map((c) => c.toString('base64')) });
  return done;
}

/**
 * How a device with an issued certificate exists on its hub: authenticated by the CA that issued its certificate, which
 * the hub trusts through ADR's credential sync (concept-certificate-issuance, "IoT Hub trust and credential sync"); no
 * thumbprint is pinned, since the certificate changes at every renewal. Inferred from Microsoft's pages, not verified
 * against a hub.
 */
const CA_AUTHENTICATION: HubDevice['authentication'] = {
  type: 'certificateAuthority',
  symmetricKey: { primaryKey: null, secondaryKey: null },
  x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
};
