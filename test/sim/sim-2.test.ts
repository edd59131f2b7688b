import { describe } from 'vitest';
import { seedTests } from './run-seeds.js';

// 4 files × 500 seeds: 2,000 seeded scenarios per `npm test`, spread over the workers.
describe('simulation, part 2', () => seedTests(501, 500));
