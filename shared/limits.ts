/** Service limits the use cases batch by (documented; the adapters enforce them too). */
/** IoT Hub bulk registry operations take at most 100 devices. */
export const HUB_BATCH = 100;
/** The DPS service SDK's maintainers cap bulk enrollment operations at 10. */
export const DPS_BATCH = 10;
