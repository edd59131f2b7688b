// The repository root, for the bench helpers that load dist/ or the TypeScript test servers.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
