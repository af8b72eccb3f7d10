/**
 * The registry's view of device connections, as IoT Hub's service API shows it (`Device` and `Twin` in the service
 * swagger): `connectionState` Connected/Disconnected with `connectionStateUpdatedTime` on the device, and
 * `lastActivityTime` ("the last time the device connected, received, or sent a message"). The twin carries
 * `connectionState` and `lastActivityTime` too, which is what registry queries return. The device's etag does not
 * change: these fields are the hub's, not an identity update.
 */
import type { HubData } from './state';

export class ConnectionLedger {
  constructor(
    private readonly data: HubData,
    private readonly changed: () => void,
  ) {}

  connected(deviceId: string): void {
    this.set(deviceId, 'Connected');
  }

  disconnected(deviceId: string): void {
    this.set(deviceId, 'Disconnected');
  }

  /** A message sent or received, a twin read or written. */
  active(deviceId: string): void {
    const device = this.data.devices.get(deviceId.toLowerCase());
    if (!device) return;
    device.lastActivityTime = new Date().toISOString();
    this.mirror(deviceId);
  }

  /** Copies the device's connection fields onto its twin (the registry rebuilds the twin when it stores a device). */
  mirror(deviceId: string): void {
    const key = deviceId.toLowerCase();
    const device = this.data.devices.get(key);
    const twin = this.data.twins.get(key);
    if (device && twin)
      Object.assign(twin, { connectionState: device.connectionState, lastActivityTime: device.lastActivityTime });
  }

  /** Nobody is connected to a hub that just started: a snapshot's `Connected` devices are not. */
  resetAfterRestart(): void {
    for (const device of this.data.devices.values())
      if (device.connectionState === 'Connected') this.set(device.deviceId, 'Disconnected');
  }

  private set(deviceId: string, state: 'Connected' | 'Disconnected'): void {
    const device = this.data.devices.get(deviceId.toLowerCase());
    if (!device) return;
    const now = new Date().toISOString();
    device.connectionState = state;
    device.connectionStateUpdatedTime = now;
    if (state === 'Connected') device.lastActivityTime = now;
    this.mirror(deviceId);
    this.changed();
  }
}
