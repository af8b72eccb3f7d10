/**
 * The allocation decision, pure: from the parsed request to the hub, initial twin and payload, with the reason.
 * The default policy: keep a re-provisioning device on its current hub while that hub is still linked (sticky),
 * otherwise spread devices over the linked hubs by rendezvous hashing on the registration ID.
 */
import type { AllocationRequest, AllocationResponse } from './contract';
import { rank } from './rendezvous';

export interface Decision {
  response: AllocationResponse;
  /** Why this hub: for the decision event and the explain route. */
  reason: string;
}

export function decideDefault(request: AllocationRequest): Decision {
  const { registrationId, currentIotHubHostName } = request.deviceRuntimeContext;
  const linked = request.linkedHubs;
  const current = currentIotHubHostName && linked.find((h) => h.toLowerCase() === currentIotHubHostName.toLowerCase());
  if (current) return { response: { iotHubHostName: current }, reason: 'sticky: re-provisioning keeps the current hub' };
  const [best] = rank(registrationId, linked.map((hostName) => ({ hostName })));
  return { response: { iotHubHostName: best.hostName }, reason: 'default: rendezvous hashing over linked hubs' };
}
