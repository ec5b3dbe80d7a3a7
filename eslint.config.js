import effectPlugin from "@effect/eslint-plugin"
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".bench-tmp/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The formatter, run by `npm run lint` (and `npm run lint -- --fix`): the Effect repo's dprint setup.
    files: ["**/*.ts", "**/*.tsx"],
    plugins: { "@effect": effectPlugin },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }]
    }
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "require-yield": "off"
    }
  },
  {
    // The layout, enforced: contracts (services/) and pure modules (src/ but the entry points'
    // own folders) never reach into implementations (layers/).
    files: [
      "services/**/*.ts",
      "src/domain/**/*.ts",
      "src/api/**/*.ts",
      "src/fleet/**/*.ts",
      "src/tmux/**/*.ts",
      "src/http/**/*.ts",
      "src/concurrency/**/*.ts",
      "src/transport/**/*.ts",
      "src/agents/**/*.ts"
    ],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["**/layers/**"], message: "Contracts and pure modules import no implementation: depend on a services/ Tag." }]
      }]
    }
  },
  {
    // The daemon is composed in one place (layers/Main.ts), which only its entry program runs.
    files: ["layers/**/*.ts", "src/*.ts", "src/cli/**/*.ts", "src/tui/**/*.ts", "src/tui/**/*.tsx"],
    ignores: ["src/cli/DaemonProgram.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["**/layers/Main.js", "./Main.js"], message: "Only src/cli/DaemonProgram.ts composes the daemon (layers/Main.ts)." }]
      }]
    }
  },
  {
    files: ["scripts/**/*.mjs", "bench/**/*.mjs"],
    languageOptions: { globals: { URL: "readonly", console: "readonly", process: "readonly" } }
  },
  {
    files: ["services/**/*.ts", "layers/**/*.ts", "src/**/*.ts", "src/**/*.tsx"],
    ignores: ["src/main.ts", "src/cli.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        { selector: "ThrowStatement", message: "Fail with a tagged error in the Effect error channel." },
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: "Read configuration through Effect Config."
        },
        {
          selector: "CallExpression[callee.object.name='Effect'][callee.property.name=/^(forkDaemon|runPromise|runFork|runSync)$/]",
          message: "Background work belongs to a scope; only entry points run effects."
        },
        { selector: "CallExpression[callee.name=/^(setTimeout|setInterval)$/]", message: "Use Effect.sleep / Schedule." }
      ]
    }
  }
)
