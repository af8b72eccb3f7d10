import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

// Layer rules (which folder may import which) live in .dependency-cruiser.cjs: `npm run lint` runs both.
export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'deploy/**',
      'shared/generated/**',
      'node_modules/**',
      '.data/**',
      'coverage/**',
      '*.js',
      '*.cjs',
    ],
  },
  js.configs.recommended,
  {
    // The console's page script runs in a browser, with uPlot inlined before it.
    files: ['console/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'history', 'sessionStorage', 'fetch', 'URL', 'URLSearchParams', 'Blob']
          .concat(['setInterval', 'setTimeout', 'prompt', 'console', 'uPlot'])
          .map((name) => [name, 'readonly']),
      ),
    },
  },
  ...tseslint.configs.recommended,
  prettier,
  {
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
    },
  },
  {
    // Wiring in one place: the composition root reads the app settings; a trigger never does.
    files: ['functions/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Settings are read by shared/composition/, not by triggers.' },
      ],
    },
  },
);
