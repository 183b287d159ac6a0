// Writes docs/schemas/*.schema.json, the JSON Schemas of the CLI's --json output, from the zod
// schemas in lib/cli/json-output.ts (built first by `npm run json-schemas`). A test fails when the
// committed files and the schemas differ.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as z from 'zod';
import { JSON_OUTPUTS } from '../dist/lib/cli/json-output.js';

const dir = new URL('../docs/schemas/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [file, schema] of Object.entries(JSON_OUTPUTS)) {
  writeFileSync(new URL(file, dir), `${JSON.stringify(z.toJSONSchema(schema), null, 2)}\n`);
  console.log(`wrote docs/schemas/${file}`);
}
