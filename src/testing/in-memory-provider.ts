import { canonicalize } from '../address.js';
import { DiscoveryError } from '../errors.js';
import type { ContactPoint, Lookup, RegisterOptions, Registration, RegistryProvider } from '../types.js';

/**
 * A scriptable discovery provider for users' own tests: set the contact points per service, make the
 * next lookups fail, and count calls. Registrations add themselves to the list until closed.
 */
export class InMemoryProvider implements RegistryProvider {
  readonly method = 'in-memory';
  readonly #points = new Map<string, ContactPoint[]>();
  #failures: Error[] = [];
  calls = 0;

  set(service: string, points: readonly ContactPoint[]): void {
    this.#points.set(service, [...points]);
  }

  /** The next `count` lookups fail with `error` (a retriable DiscoveryError by default). */
  failNext(count = 1, error: Error = new DiscoveryError('in-memory: injected failure')): void {
    for (let i = 0; i < count; i++) this.#failures.push(error);
  }

  async resolve(lookup: Lookup): Promise<ContactPoint[]> {
    this.calls++;
    const failure = this.#failures.shift();
    if (failure) throw failure;
    return canonicalize(this.#points.get(lookup.service) ?? []);
  }

  async register(self: ContactPoint, options: RegisterOptions): Promise<Registration> {
    const list = this.#points.get(options.service) ?? [];
    this.#points.set(options.service, [...list, self]);
    return {
      self,
      close: async () => {
        const now = this.#points.get(options.service) ?? [];
        this.#points.set(
          options.service,
          now.filter((p) => p !== self),
        );
      },
    };
  }

  async close(): Promise<void> {}
}
