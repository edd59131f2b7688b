// The aggregate schema nests the union of every method, so it is defined beside that union.
export { AggregateOptions, method, aliases } from '../../src/config/discovery.js';
export type { AggregateOptions as AggregateOptionsType } from '../../src/config/discovery.js';
