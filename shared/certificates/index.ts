/** The certificates' face to the other capabilities: the inventory, as containment reads it. */
export {
  type DeviceRegistryPort,
  type RegistryCertificateAuthority,
  type RegistryDevice,
  registryDeviceName,
  type RegistryEnablement,
} from './device-registry';
export * from './inventory-store';
