// ESLint flat config (ESLint 9, typescript-eslint 8).
//
//   npx eslint .            lint everything
//   npm run lint            same
//
// Type-aware rules use the TypeScript project service, so the files linted
// here must be covered by tsconfig.json (src/, test/, scripts/).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

const TS_FILES = ["src/**/*.ts", "test/**/*.ts", "scripts/**/*.ts", "bench/**/*.ts"];
const WORKFLOW_FILES = ["src/workflows/**/*.ts"];

// Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node
// built-ins, no model client, no activity implementations. Type-only imports
// are erased at compile time and are therefore allowed.
const NODE_BUILTINS = [
  "fs",
  "fs/promises",
  "path",
  "http",
  "https",
  "http2",
  "net",
  "tls",
  "dns",
  "child_process",
  "crypto",
  "os",
  "worker_threads",
  "cluster",
];

const workflowImportRestrictions = {
  paths: [
    ...NODE_BUILTINS.map((name) => ({
      name,
      message:
        "Workflow code must be deterministic: no Node built-ins. Do I/O in an activity.",
      allowTypeImports: true,
    })),
    {
      name: "openai",
      message:
        "Model calls are activities. Import the openai client only from src/activities/.",
      allowTypeImports: true,
    },
    ...["@temporalio/worker", "@temporalio/client", "@temporalio/activity"].map(
      (name) => ({
        name,
        message:
          "Workflow code may only use @temporalio/workflow and @temporalio/common at runtime.",
        allowTypeImports: true,
      }),
    ),
  ],
  patterns: [
    {
      group: ["node:*"],
      message:
        "Workflow code must be deterministic: no Node built-ins. Do I/O in an activity.",
      allowTypeImports: true,
    },
    {
      group: [
        "../activities",
        "../activities/*",
        "../../activities",
        "../../activities/*",
      ],
      message:
        "Workflows call activities through proxyActivities<typeof activities>(); import activity modules with `import type` only.",
      allowTypeImports: true,
    },
  ],
};

export default defineConfig([
  {
    ignores: [
      "dist/",
      "node_modules/",
      ".venv/",
      ".tmp/",
      "coverage/",
      "**/*.d.ts",
    ],
  },

  {
    files: ["**/*.{js,mjs,cjs}"],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
    },
  },

  {
    files: TS_FILES,
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
    },
  },

  {
    files: WORKFLOW_FILES,
    rules: {
      // The typescript-eslint extension understands `import type` and
      // `allowTypeImports`; the base rule would flag type-only imports too.
      "no-restricted-imports": "off",
      "@typescript-eslint/no-restricted-imports": [
        "error",
        workflowImportRestrictions,
      ],
      "no-restricted-globals": [
        "error",
        {
          name: "process",
          message:
            "Workflow code must not read process state; pass configuration in workflow input or read it in an activity.",
        },
        {
          name: "fetch",
          message: "Network I/O belongs in an activity.",
        },
      ],
      "no-restricted-properties": [
        "error",
        {
          object: "Math",
          property: "random",
          message:
            "Use a value computed outside the workflow, or uuid4() from @temporalio/workflow.",
        },
        {
          object: "Date",
          property: "now",
          message:
            "Do not depend on the clock in workflow logic; use workflowInfo() timestamps or durable timers (sleep/condition).",
        },
      ],
    },
  },

  {
    // Test support talks raw JSON to real servers; strict `any` rules would only add casts.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
      // node:test's describe/it return promises the runner itself tracks.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"] },
          ],
        },
      ],
    },
  },
]);
