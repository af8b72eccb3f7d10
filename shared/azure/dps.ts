/**
 * EnrollmentsPort on `azure-iot-provisioning-service` (the DPS service SDK), which pins api-version 2021-10-01.
 * Writes that name an ADR certificate policy (`namespaceName`, `certificateAuthorityName`, `certificatePolicyName`)
 * go under 2026-11-01 instead, through the SDK's own REST client: 2021-10-01 neither takes nor shows the names, and
 * every other call stays on the SDK. A write without the names stays on 2021-10-01 on purpose: DPS keeps the names
 * an older version does not know, while a 2026-11-01 write without them would erase them — so a read (2021-10-01,
 * no names) modified and written back never drops a policy. Clearing a policy is therefore not possible here.
 */
import type { RestApiClient } from 'azure-iot-http-base';
import { ProvisioningServiceClient } from 'azure-iot-provisioning-service';
import type { Query } from 'azure-iot-provisioning-service/dist/query';

import { certificatePolicyOf, ISSUING_DPS_API_VERSION } from '../certificate-policy';
import type {
  BulkEnrollmentMode,
  BulkEnrollmentOperationResult,
  DeviceRegistrationState,
  EnrollmentGroup,
  IndividualEnrollment,
} from '../dps-types';
import { DPS_BATCH } from '../limits';
import type { EnrollmentsPort, Page } from '../ports';
import { DPS_TOKEN_SCOPE, type IotAuth, iotClientConfig, restApiClient } from './iot-clients';
import type { IotDeadlines } from './iot-deadlines';
import { sdkCall, sdkRead, sdkVoid, translateIotError } from './iot-errors';
import type { TransportOptions } from './transport';

export const DPS_BULK_LIMIT = DPS_BATCH;

export interface DpsClients {
  sdk: ProvisioningServiceClient;
  /** The SDK's REST client (auth and transport included), for the calls it cannot make under 2026-11-01. */
  rest: RestApiClient;
}

/** `deadlines`: how long a call may go unanswered (iot-deadlines.ts; 30 s, a bulk operation 60 s, unless told). */
export function dpsClient(auth: IotAuth, transport?: TransportOptions, deadlines?: IotDeadlines): DpsClients {
  const config = iotClientConfig(auth);
  const rest = restApiClient(config, 'dps-lifecycle', transport, deadlines);
  return { sdk: new ProvisioningServiceClient(config as never, rest as never), rest };
}

const ISSUING = `?api-version=${ISSUING_DPS_API_VERSION}`;
const JSON_HEADERS = { Accept: 'application/json', 'Content-Type': 'application/json; charset=utf-8' };
const namesPolicy = (e: object) => certificatePolicyOf(e) !== undefined;

export function dpsAuth(
  hostName: string,
  connectionString: string | undefined,
  credential: () => import('@azure/identity').TokenCredential,
): IotAuth {
  return connectionString ? { connectionString } : { hostName, credential: credential(), scope: DPS_TOKEN_SCOPE };
}

/* The SDK's typings describe its own classes; the wire objects are plain JSON, which is what we pass. */
type Sdk = Record<string, (...args: unknown[]) => Promise<{ responseBody: never }>>;

async function page<T>(query: Query, continuationToken: string | undefined): Promise<Page<T>> {
  try {
    const { responseBody, httpResponse } = await (query.next(continuationToken as string) as unknown as Promise<{
      responseBody: T[];
      httpResponse: { headers: Record<string, string | undefined> };
    }>);
    return { items: responseBody ?? [], continuationToken: httpResponse.headers['x-ms-continuation'] || undefined };
  } catch (err) {
    throw translateIotError(err);
  }
}

export class DpsEnrollments implements EnrollmentsPort {
  private readonly sdk: Sdk;
  private readonly client: ProvisioningServiceClient;
  private readonly rest: RestApiClient;

  constructor(clients: DpsClients) {
    this.client = clients.sdk;
    this.rest = clients.rest;
    this.sdk = clients.sdk as unknown as Sdk;
  }

  /** One call under 2026-11-01 on the SDK's REST client: same auth, transport and errors as the SDK's calls. */
  private issuing<T>(method: 'PUT' | 'POST', path: string, body: object, etag?: string): Promise<T> {
    const headers: Record<string, string> = { ...JSON_HEADERS, ...(etag ? { 'If-Match': etag } : {}) };
    return sdkCall(
      () =>
        new Promise((resolve, reject) =>
          this.rest.executeApiCall(
            method,
            path + ISSUING,
            headers,
            body,
            (err: Error | undefined, responseBody?: unknown) =>
              err ? reject(err) : resolve({ responseBody: responseBody as never }),
          ),
        ),
    );
  }

  getEnrollment(id: string): Promise<IndividualEnrollment | undefined> {
    return sdkRead(() => this.sdk.getIndividualEnrollment(id));
  }

  putEnrollment(enrollment: IndividualEnrollment): Promise<IndividualEnrollment> {
    if (namesPolicy(enrollment))
      return this.issuing(
        'PUT',
        `/enrollments/${encodeURIComponent(enrollment.registrationId)}`,
        enrollment,
        enrollment.etag,
      );
    return sdkCall(() => this.sdk.createOrUpdateIndividualEnrollment(enrollment));
  }

  deleteEnrollment(id: string, etag?: string): Promise<void> {
    return sdkVoid(() =>
      etag ? this.sdk.deleteIndividualEnrollment(id, etag) : this.sdk.deleteIndividualEnrollment(id),
    );
  }

  async bulkEnrollments(
    mode: BulkEnrollmentMode,
    enrollments: IndividualEnrollment[],
  ): Promise<BulkEnrollmentOperationResult> {
    if (enrollments.length > DPS_BULK_LIMIT)
      throw new RangeError(`a bulk operation takes at most ${DPS_BULK_LIMIT} enrollments, got ${enrollments.length}`);
    const issuing = enrollments.filter(namesPolicy);
    if (issuing.length && (mode === 'create' || issuing.length === enrollments.length))
      // A create without the names means none under either version, so a mixed create goes as one call.
      return this.issuing('POST', '/enrollments', { mode, enrollments });
    if (issuing.length) {
      // An update without the names must stay on 2021-10-01 (which keeps stored names): two calls, one answer.
      const [a, b] = [
        await this.issuing<BulkEnrollmentOperationResult>('POST', '/enrollments', { mode, enrollments: issuing }),
        await this.bulkEnrollments(
          mode,
          enrollments.filter((e) => !namesPolicy(e)),
        ),
      ];
      return {
        ...a,
        isSuccessful: a.isSuccessful && b.isSuccessful,
        errors: [...(a.errors ?? []), ...(b.errors ?? [])],
      };
    }
    // The SDK's promise form of this call never settles (it answers only when given a callback), so use the callback.
    return sdkCall(
      () =>
        new Promise((resolve, reject) => {
          void this.sdk.runBulkEnrollmentOperation(
            { mode, enrollments },
            (err: Error | undefined, responseBody?: unknown) =>
              err ? reject(err) : resolve({ responseBody: responseBody as never }),
          );
        }),
    );
  }

  queryEnrollments(pageSize: number, continuationToken?: string): Promise<Page<IndividualEnrollment>> {
    return page(this.client.createIndividualEnrollmentQuery({ query: '*' }, pageSize), continuationToken);
  }

  getGroup(id: string): Promise<EnrollmentGroup | undefined> {
    return sdkRead(() => this.sdk.getEnrollmentGroup(id));
  }

  putGroup(group: EnrollmentGroup): Promise<EnrollmentGroup> {
    if (namesPolicy(group))
      return this.issuing('PUT', `/enrollmentGroups/${encodeURIComponent(group.enrollmentGroupId)}`, group, group.etag);
    return sdkCall(() => this.sdk.createOrUpdateEnrollmentGroup(group));
  }

  deleteGroup(id: string, etag?: string): Promise<void> {
    return sdkVoid(() => (etag ? this.sdk.deleteEnrollmentGroup(id, etag) : this.sdk.deleteEnrollmentGroup(id)));
  }

  queryGroups(pageSize: number, continuationToken?: string): Promise<Page<EnrollmentGroup>> {
    return page(this.client.createEnrollmentGroupQuery({ query: '*' }, pageSize), continuationToken);
  }

  getRegistrationState(id: string): Promise<DeviceRegistrationState | undefined> {
    return sdkRead(() => this.sdk.getDeviceRegistrationState(id));
  }

  deleteRegistrationState(id: string, etag?: string): Promise<void> {
    return sdkVoid(() =>
      etag ? this.sdk.deleteDeviceRegistrationState(id, etag) : this.sdk.deleteDeviceRegistrationState(id),
    );
  }

  queryGroupRegistrations(
    groupId: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<Page<DeviceRegistrationState>> {
    return page(
      this.client.createEnrollmentGroupDeviceRegistrationStateQuery({ query: '*' }, groupId, pageSize),
      continuationToken,
    );
  }
}
