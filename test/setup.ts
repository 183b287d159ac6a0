/** Every test process reads the packaged resource schemas, as the CLI and the reconcile Lambda do. */
import { usePackagedResourceSchemas } from '../lib/adapters/resource-schema-file.js';

usePackagedResourceSchemas();
