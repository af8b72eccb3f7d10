/** The manufacturers document as a JSON Schema, compiled at build time (dev/generate-validators.ts). */
import { CERTIFICATE_POLICY_PATTERNS } from '../certificate-policy';

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
          /** The ADR certificate policy its imported enrollments name unless the job or the row says otherwise. */
          certificatePolicy: {
            type: 'object',
            required: ['namespaceName', 'certificateAuthorityName', 'certificatePolicyName'],
            additionalProperties: false,
            properties: {
              namespaceName: { type: 'string', pattern: CERTIFICATE_POLICY_PATTERNS.namespaceName },
              certificateAuthorityName: {
                type: 'string',
                pattern: CERTIFICATE_POLICY_PATTERNS.certificateAuthorityName,
              },
              certificatePolicyName: { type: 'string', pattern: CERTIFICATE_POLICY_PATTERNS.certificatePolicyName },
            },
          },
        },
      },
    },
    tpmVendorCertificates: { type: 'array', items: { type: 'string' } },
  },
} as const;
