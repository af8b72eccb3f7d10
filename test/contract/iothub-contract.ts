/**
 * IoT Hub's service API (api-version 2021-04-12, the one `azure-iothub` pins), the part the backend and the simulator
 * use, as JSON Schema. Source: the IoT Hub service swagger (Azure/azure-iot-hub-node `src/service.json`), whose models
 * `azure-iothub` ships generated (`dist/pl/models`: the same names, fields and enums). Errors are not in the swagger;
 * their shape is the one the hub SDK parses (`{ Message: "ErrorCode:<code>;<text>", ExceptionMessage }`).
 */
import { anyObject, arrayOf, bool, dateTime, int, obj, oneOf, type Schema, str } from './schema-kit';

const authenticationType = oneOf('sas', 'selfSigned', 'certificateAuthority', 'none');
/** Keys and thumbprints are nullable on the wire (`"secondaryThumbprint": null`), as the hub answers and the SDK sends. */
const nullableStr: Schema = { type: ['string', 'null'] };
const authentication = obj({
  symmetricKey: obj({ primaryKey: nullableStr, secondaryKey: nullableStr }),
  x509Thumbprint: obj({ primaryThumbprint: nullableStr, secondaryThumbprint: nullableStr }),
  type: authenticationType,
});
const capabilities = obj({ iotEdge: bool });
const status = oneOf('enabled', 'disabled');

export const IOT_HUB: Record<string, Schema> = {
  Device: obj({
    deviceId: str,
    generationId: str,
    etag: str,
    connectionState: oneOf('Disconnected', 'Connected'),
    status,
    statusReason: nullableStr,
    connectionStateUpdatedTime: dateTime,
    statusUpdatedTime: dateTime,
    lastActivityTime: dateTime,
    cloudToDeviceMessageCount: int,
    authentication,
    capabilities,
    deviceScope: str,
    parentScopes: arrayOf(str),
  }),
  ExportImportDevice: obj({
    id: str,
    moduleId: str,
    eTag: str,
    // The spec's values, and the capitalised ones azure-iothub sends for updates and removals (registry.js:
    // 'Update', 'UpdateIfMatchETag', 'Delete', 'DeleteIfMatchETag'): IoT Hub reads the mode without regard to case.
    importMode: oneOf(
      'Update',
      'UpdateIfMatchETag',
      'Delete',
      'DeleteIfMatchETag',
      'create',
      'update',
      'updateIfMatchETag',
      'delete',
      'deleteIfMatchETag',
      'updateTwin',
      'updateTwinIfMatchETag',
    ),
    status,
    statusReason: nullableStr,
    authentication,
    twinETag: str,
    tags: anyObject,
    properties: obj({ desired: anyObject, reported: anyObject }),
    capabilities,
    deviceScope: str,
    parentScopes: arrayOf(str),
  }),
  BulkRegistryOperationResult: obj({
    isSuccessful: bool,
    errors: arrayOf(obj({ deviceId: str, errorCode: str, errorStatus: str, moduleId: str, operation: str })),
    warnings: arrayOf(obj({ deviceId: str, warningCode: str, warningStatus: str })),
  }),
  Twin: obj({
    deviceId: str,
    moduleId: str,
    tags: anyObject,
    properties: obj({ desired: anyObject, reported: anyObject }),
    etag: str,
    version: int,
    deviceEtag: str,
    status,
    statusReason: nullableStr,
    statusUpdateTime: dateTime,
    connectionState: oneOf('Disconnected', 'Connected'),
    lastActivityTime: dateTime,
    cloudToDeviceMessageCount: int,
    authenticationType,
    x509Thumbprint: obj({ primaryThumbprint: nullableStr, secondaryThumbprint: nullableStr }),
    capabilities,
    deviceScope: str,
    parentScopes: arrayOf(str),
  }),
  QuerySpecification: obj({ query: str }),
  RegistryStatistics: obj({ totalDeviceCount: int, enabledDeviceCount: int, disabledDeviceCount: int }),
  ServiceStatistics: obj({ connectedDeviceCount: int }),
  JobProperties: obj({
    jobId: str,
    startTimeUtc: dateTime,
    endTimeUtc: dateTime,
    type: oneOf('unknown', 'export', 'import', 'backup', 'readDeviceProperties', 'writeDeviceProperties'),
    status: oneOf('unknown', 'enqueued', 'running', 'completed', 'failed', 'cancelled', 'scheduled', 'queued'),
    progress: int,
    inputBlobContainerUri: str,
    inputBlobName: str,
    outputBlobContainerUri: str,
    outputBlobName: str,
    excludeKeysInExport: bool,
    storageAuthenticationType: oneOf('keyBased', 'identityBased'),
    failureReason: str,
    includeConfigurations: bool,
    configurationsBlobName: str,
  }),
  HubError: obj({ Message: { type: 'string', pattern: '^ErrorCode:[A-Za-z]+;' }, ExceptionMessage: str }, ['Message']),
};
