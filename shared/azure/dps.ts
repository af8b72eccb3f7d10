/** EnrollmentsPort on `azure-iot-provisioning-service` (the DPS service SDK). */
import { ProvisioningServiceClient } from 'azure-iot-provisioning-service';
import type { Query } from 'azure-iot-provisioning-service/dist/query';

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
import { sdkCall, sdkRead, sdkVoid, translateIotError } from './iot-errors';
import type { TransportOptions } from './transport';

export const DPS_BULK_LIMIT = DPS_BATCH;

export function dpsClient(auth: IotAuth, transport?: TransportOptions): ProvisioningServiceClient {
  const config = iotClientConfig(auth);
  return new ProvisioningServiceClient(config as never, restApiClient(config, 'dps-lifecycle', transport) as never);
}

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

  constructor(private readonly client: ProvisioningServiceClient) {
    this.sdk = client as unknown as Sdk;
  }

  getEnrollment(id: string): Promise<IndividualEnrollment | undefined> {
    return sdkRead(() => this.sdk.getIndividualEnrollment(id));
  }

  putEnrollment(enrollment: IndividualEnrollment): Promise<IndividualEnrollment> {
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
    // The SDK's promise form of this call never settles (it answers only when given a callback), so use the callback.
    return sdkCall(
      () =>
        new Promise((resolve, reject) => {
          void this.sdk.runBulkEnrollmentOperation({ mode, enrollments }, (err: unknown, responseBody: never) =>
            err ? reject(err) : resolve({ responseBody }),
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
