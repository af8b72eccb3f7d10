import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', '*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // The layers of DESIGN.md: only shared/azure may import the Azure SDKs; shared/ and functions/ never import dev/.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['shared/**/*.ts', 'functions/**/*.ts'],
    ignores: ['shared/azure/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['@azure/cosmos', '@azure/event-hubs', '@azure/storage-queue', '@azure/identity', 'azure-iot-*', 'azure-iothub'], message: 'Azure SDKs are imported only in shared/azure (DESIGN.md, Layers).' },
          { group: ['**/dev/**', '../dev/*', '../../dev/*'], message: 'Production code never imports the local stack.' },
        ],
      }],
    },
  },
);
