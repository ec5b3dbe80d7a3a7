import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".bench-tmp/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
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
