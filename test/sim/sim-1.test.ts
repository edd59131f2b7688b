import { describe } from 'vitest';
import { seedTests } from './run-seeds.js';

// 4 files × 400 seeds: 1,600 seeded scenarios (more with npm run sim) per `npm test`, spread over the workers.
describe('simulation, part 1', () => seedTests(1, 400));
