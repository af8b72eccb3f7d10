/** The manufacturers document as a JSON Schema, compiled at build time (dev/generate-validators.ts). */
export const IMPORT_CONFIG_SCHEMA = {
  type: 'object',
  required: ['manufacturers'],
  properties: {
    id: { type: 'string' },
    manufacturers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'registrationIdPrefix'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{1,62}$' },
          displayName: { type: 'string' },
          registrationIdPrefix: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$' },
          entraAppIds: { type: 'array', items: { type: 'string', minLength: 1 } },
          signingCertificates: { type: 'array', items: { type: 'string', pattern: '-----BEGIN CERTIFICATE-----' } },
        },
      },
    },
    tpmVendorCertificates: { type: 'array', items: { type: 'string' } },
  },
} as const;
