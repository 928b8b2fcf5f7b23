// ESLint: the recommended JavaScript and typescript-eslint rules; formatting is Prettier's job.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'esm/',
      'build/',
      'prebuilds/',
      'node_modules/',
      'coverage/',
      '**/*.d.ts',
      '**/*.d.mts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Parameters are typed for callers even where the body forwards `arguments` as a whole.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Entry points count `arguments` to tell a missing argument from an explicit undefined.
      'prefer-rest-params': 'off',
      // Node modules some paths need are required on first use (src/lazy.ts), not at load.
      '@typescript-eslint/no-require-imports': 'off',
      // Terminal output is matched and stripped by its escape sequences (ESC, 0x1b) on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    // Plain CommonJS programs: test fixtures, the esm wrapper builder, configs.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
    // Tests read the JSON their fixtures print, whatever its shape.
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
