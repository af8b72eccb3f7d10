/**
 * HubRegistryPort on `azure-iothub` (the IoT Hub service SDK's `Registry`). The one call `Registry` lacks — the
 * service statistics (`GET /statistics/service`, connected devices) — goes through the SDK's own REST client, as
 * `Registry.getRegistryStatistics` does for `/statistics/devices`: same auth, transport and api-version.
 */
import type { RestApiClient } from 'azure-iot-http-base';
import { Registry } from 'azure-iothub';
import { versionQueryString } from 'azure-iothub/dist/version';

import type { HubBulkResult, HubDevice, HubStatistics, HubTwin } from '../dps-types';
import { NotFoundError } from '../errors';
import { HUB_BATCH } from '../limits';
import type { BlobContainerRef, HubBulkMode, HubDirectory, HubJob, HubRegistryPort, Page } from '../ports';
import { type IotAuth, iotClientConfig, restApiClient } from './iot-clients';
import type { IotDeadlines } from './iot-deadlines';
import { sdkCall, sdkPlain, sdkRead, sdkVoid, translateIotError } from './iot-errors';
import type { TransportOptions } from './transport';

export const HUB_BULK_LIMIT = HUB_BATCH;

export function hubRegistry(auth: IotAuth, transport?: TransportOptions, deadlines?: IotDeadlines): Registry {
  return hubClients(auth, transport, deadlines).registry;
}

/**
 * The SDK's `Registry` and the REST client under it. `deadlines`: how long a call may go unanswered (iot-deadlines.ts;
 * 30 s, a bulk operation or an import job's start 60 s, unless told).
 */
export function hubClients(
  auth: IotAuth,
  transport?: TransportOptions,
  deadlines?: IotDeadlines,
): { registry: Registry; rest: RestApiClient } {
  const config = iotClientConfig(auth);
  const rest = restApiClient(config, 'dps-lifecycle', transport, deadlines);
  return { registry: new Registry(config as never, rest as never), rest };
}

type Sdk = Record<
  string,
  (
    ...args: unknown[]
  ) => Promise<{ responseBody: never; httpResponse: { headers: Record<string, string | undefined> } }>
>;

function plainTwin(twin: Record<string, unknown>): HubTwin {
  const { deviceId, etag, tags, properties, status, connectionState, lastActivityTime } = twin as unknown as HubTwin;
  return {
    deviceId,
    etag,
    tags,
    properties: properties && { desired: properties.desired, reported: properties.reported },
    status,
    ...(connectionState ? { connectionState } : {}),
    ...(lastActivityTime ? { lastActivityTime } : {}),
  };
}

/**
 * A device as a bulk registry operation takes it (the swagger's ExportImportDevice; the SDK renames `deviceId` to
 * `id` and adds `importMode`): the settable fields, and the etag as `eTag`, the name the *IfMatchETag modes read.
 * Read-only fields of a device read back (times, connection state, counts) are left out.
 */
function importDevice(d: HubDevice): Record<string, unknown> {
  const fields = {
    deviceId: d.deviceId,
    eTag: d.etag,
    status: d.status,
    statusReason: d.statusReason ?? undefined,
    authentication: d.authentication,
    capabilities: d.capabilities,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

export class IotHubRegistry implements HubRegistryPort {
  private readonly sdk: Sdk;

  constructor(
    readonly hostName: string,
    private readonly registry: Registry,
    private readonly rest?: RestApiClient,
  ) {
    this.sdk = registry as unknown as Sdk;
  }

  getDevice(deviceId: string): Promise<HubDevice | undefined> {
    return sdkRead(() => this.sdk.get(deviceId));
  }

  /** Creates the device, or replaces it when it carries an etag (the SDK updates with `If-Match: *`). */
  async putDevice(device: HubDevice): Promise<HubDevice> {
    const result = await sdkCall<HubDevice>(() => (device.etag ? this.sdk.update(device) : this.sdk.create(device)));
    return { ...result };
  }

  async deleteDevice(deviceId: string, etag?: string): Promise<void> {
    if (!etag) return sdkVoid(() => this.sdk.delete(deviceId));
    const result = await this.bulkDevices('deleteIfMatchETag', [{ deviceId, etag }]);
    if (!result.isSuccessful)
      throw translateIotError(
        Object.assign(new Error(result.errors[0]?.errorStatus ?? 'delete failed'), { response: { statusCode: 412 } }),
      );
  }

  async bulkDevices(mode: HubBulkMode, all: HubDevice[]): Promise<HubBulkResult> {
    if (all.length > HUB_BULK_LIMIT)
      throw new RangeError(`a bulk registry operation takes at most ${HUB_BULK_LIMIT} devices, got ${all.length}`);
    const devices = all.map(importDevice);
    switch (mode) {
      case 'create':
        return sdkCall(() => this.sdk.addDevices(devices));
      case 'update':
        return sdkCall(() => this.sdk.updateDevices(devices, true));
      case 'updateIfMatchETag':
        return sdkCall(() => this.sdk.updateDevices(devices, false));
      case 'delete':
        return sdkCall(() => this.sdk.removeDevices(devices, true));
      case 'deleteIfMatchETag':
        return sdkCall(() => this.sdk.removeDevices(devices, false));
    }
  }

  startImportJob(input: BlobContainerRef, output: BlobContainerRef): Promise<HubJob> {
    const registry = this.registry as unknown as Record<string, (...args: unknown[]) => Promise<HubJob>>;
    return sdkPlain(() =>
      input.byIdentity
        ? registry.importDevicesFromBlobByIdentity(input.url, output.url)
        : registry.importDevicesFromBlob(input.url, output.url),
    );
  }

  async getJob(jobId: string): Promise<HubJob | undefined> {
    const registry = this.registry as unknown as Record<string, (...args: unknown[]) => Promise<HubJob>>;
    return sdkPlain(() => registry.getJob(jobId)).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
  }

  async listJobs(): Promise<HubJob[]> {
    return (await sdkCall<HubJob[]>(() => this.sdk.listJobs())) ?? [];
  }

  async getTwin(deviceId: string): Promise<HubTwin | undefined> {
    const twin = await sdkRead<Record<string, unknown>>(() => this.sdk.getTwin(deviceId));
    return twin && plainTwin(twin);
  }

  async queryTwins(sql: string, pageSize: number, continuationToken?: string): Promise<Page<HubTwin>> {
    try {
      const query = this.registry.createQuery(sql, pageSize);
      const { result, message } = await (query.next(continuationToken as string) as unknown as Promise<{
        result: Record<string, unknown>[];
        message: { headers: Record<string, string | undefined> };
      }>);
      return {
        items: (result ?? []).map(plainTwin),
        continuationToken: message.headers['x-ms-continuation'] || undefined,
      };
    } catch (err) {
      throw translateIotError(err);
    }
  }

  statistics(): Promise<HubStatistics> {
    return sdkCall(() => this.sdk.getRegistryStatistics());
  }

  async connectedDevices(): Promise<number> {
    const rest = this.rest;
    if (!rest) throw new Error(`no REST client for ${this.hostName}'s service statistics`);
    const stats = await sdkCall<{ connectedDeviceCount?: number }>(
      () =>
        new Promise((resolve, reject) =>
          rest.executeApiCall(
            'GET',
            `/statistics/service${versionQueryString()}`,
            {},
            null as never,
            (err: Error | undefined, responseBody?: unknown) =>
              err ? reject(err) : resolve({ responseBody: responseBody as never }),
          ),
        ),
    );
    return Number(stats.connectedDeviceCount ?? 0);
  }
}

export class IotHubDirectory implements HubDirectory {
  private readonly hubs = new Map<string, HubRegistryPort>();

  constructor(
    hubs: Array<{ hostName: string; auth: IotAuth }>,
    transport?: TransportOptions,
    deadlines?: IotDeadlines,
  ) {
    for (const { hostName, auth } of hubs) {
      const { registry, rest } = hubClients(auth, transport, deadlines);
      this.hubs.set(hostName.toLowerCase(), new IotHubRegistry(hostName, registry, rest));
    }
  }

  hostNames(): string[] {
    return [...this.hubs.values()].map((h) => h.hostName);
  }

  hub(hostName: string): HubRegistryPort {
    const hub = this.hubs.get(hostName.toLowerCase());
    if (!hub) throw new Error(`IoT hub ${hostName} is not configured (IOTHUB_HOST_NAMES)`);
    return hub;
  }
}
