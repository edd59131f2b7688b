export { VirtualClock, flushMicrotasks } from './virtual-clock.js';
export { InMemoryProvider } from './in-memory-provider.js';
