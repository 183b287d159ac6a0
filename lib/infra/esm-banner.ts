/**
 * The line every esbuild bundle of Cairn starts with (the Lambda functions' and the CLI's): it
 * gives the ES module a `require`, for bundled CommonJS code that requires Node built-ins or a
 * package left outside the bundle. Kept apart from the CDK code so the build script can import it.
 */
export const CREATE_REQUIRE_BANNER = "import { createRequire as __cairnCreateRequire } from 'node:module'; const require = __cairnCreateRequire(import.meta.url);";
