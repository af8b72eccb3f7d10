/**
 * The device side of a twin, as IoT Hub serves it over MQTT (iot-mqtt-connect-to-iot-hub.md): GET answers
 * `{ desired, reported }`, each with its `$version`; a reported patch is merged (a `null` member deletes) and answered
 * 204 with the new reported `$version`; a desired patch the service made reaches the device with the new desired
 * `$version`. The versions live here, beside the registry's twin (the service API answers it without them).
 */
import type { HubTwin } from '../../shared/dps-types';
import type { HubData } from './state';
import { newEtag } from './wire';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON merge as twins take patches: objects merge member by member, `null` removes a member, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  const out: Json = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete out[key];
    else if (isObject(value)) out[key] = mergePatch(isObject(out[key]) ? out[key] : {}, value);
    else out[key] = value;
  }
  return out;
}

export class TwinVersions {
  private readonly versions = new Map<string, { desired: number; reported: number }>();

  constructor(private readonly data: HubData) {}

  private of(deviceId: string) {
    const key = deviceId.toLowerCase();
    let v = this.versions.get(key);
    if (!v) this.versions.set(key, (v = { desired: 1, reported: 1 }));
    return v;
  }

  /** The body of a twin GET: the properties, each section with its version. */
  properties(deviceId: string): { desired: Json; reported: Json } | undefined {
    const twin = this.data.twins.get(deviceId.toLowerCase());
    if (!twin) return undefined;
    const v = this.of(deviceId);
    return {
      desired: { ...twin.properties?.desired, $version: v.desired },
      reported: { ...twin.properties?.reported, $version: v.reported },
    };
  }

  /** Applies a device's reported patch to the registry's twin; the new reported version, or undefined if no twin. */
  reportPatch(deviceId: string, patch: Json): number | undefined {
    const key = deviceId.toLowerCase();
    const twin = this.data.twins.get(key);
    if (!twin) return undefined;
    const next: HubTwin = {
      ...twin,
      etag: newEtag(),
      properties: { ...twin.properties, reported: mergePatch(twin.properties?.reported ?? {}, patch) },
    };
    this.data.twins.set(key, next);
    return ++this.of(deviceId).reported;
  }

  /** Counts a desired patch the service made; the body to send the device. */
  desiredPatched(deviceId: string, patch: Json): Json {
    return { ...patch, $version: ++this.of(deviceId).desired };
  }

  forget(deviceId: string): void {
    this.versions.delete(deviceId.toLowerCase());
  }
}
