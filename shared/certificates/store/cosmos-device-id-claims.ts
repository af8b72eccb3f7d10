/** Device-ID claims on Cosmos: `device-id.<lower-cased device ID>` documents of the `checkpoints` container. */
import { CONTAINERS } from '../../containers';
import type { DocumentContainer, DocumentStore } from '../../ports';
import type { DeviceIdClaim, DeviceIdClaimRepository } from '../reconcile-store';

const claimId = (deviceId: string) => `device-id.${deviceId.toLowerCase()}`;

export class CosmosDeviceIdClaimRepository implements DeviceIdClaimRepository {
  private readonly container: DocumentContainer<DeviceIdClaim>;

  constructor(store: DocumentStore) {
    this.container = store.container<DeviceIdClaim>(CONTAINERS.checkpoints.name);
  }

  read(deviceId: string): Promise<DeviceIdClaim | undefined> {
    const id = claimId(deviceId);
    return this.container.read(id, id);
  }

  async save(deviceId: string, registrationIds: string[]): Promise<void> {
    await this.container.upsert({ id: claimId(deviceId), deviceId, registrationIds });
  }
}
