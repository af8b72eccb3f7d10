/** Entra ID token scopes of the IoT services (kept apart from the SDK-importing modules, so reading them is free). */
export const DPS_TOKEN_SCOPE = 'https://azure-devices-provisioning.net/.default';
export const IOTHUB_TOKEN_SCOPE = 'https://iothubs.azure.net/.default';
