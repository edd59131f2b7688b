// Counts a provider's registry operations (register, resolve and every SeedLock operation; waits on
// a watch counted apart), for bench/registries.bench.mjs and bench/scale.bench.mjs.

/** Wraps a provider so that every registry operation increments counts.calls (waitForChange: counts.waits). */
export function counting(provider, counts) {
  const lock = provider.seedLock();
  const countedLock = new Proxy(lock, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (typeof v !== 'function') return v;
      return (...args) => {
        if (prop === 'waitForChange') counts.waits++;
        else counts.calls++;
        return v.apply(target, args);
      };
    },
  });
  return new Proxy(provider, {
    get(target, prop) {
      if (prop === 'seedLock') return () => countedLock;
      const v = Reflect.get(target, prop);
      if (typeof v !== 'function') return v;
      if (prop === 'resolve' || prop === 'register')
        return (...args) => {
          counts.calls++;
          return v.apply(target, args);
        };
      return v.bind(target);
    },
  });
}
