import { formatHostPort } from '../../src/address.js';
import type { Clock, TimerHandle } from '../../src/clock.js';
import { describeError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ContactPoint, Registration } from '../../src/types.js';
import { encodeSegment, type ConsulHttp } from './client.js';

/** Consul's minimum; its reaper then removes the instance within another 30 s. */
export const DEREGISTER_CRITICAL_AFTER_SECONDS = 60;

export interface RegistrationSettings {
  service: string;
  self: ContactPoint;
  /** Registered on the instance, so discovery with the same `tags` finds it. */
  tags: readonly string[];
  /** Adds the tag `<portFromTag><port>`, so discovery with the same `portFromTag` reads the port. */
  portFromTag?: string;
  ttlSeconds: number;
}

/** One ID per (service, address): a restarted node replaces its own entry instead of adding one. */
export function serviceId(service: string, self: ContactPoint): string {
  return `clusterseed-${service}-${formatHostPort(self)}`.replace(/[^A-Za-z0-9_.:[\]-]/g, '-');
}

export function registrationBody(s: RegistrationSettings): Record<string, unknown> {
  const id = serviceId(s.service, s.self);
  const tags = [...s.tags];
  if (s.portFromTag !== undefined && s.self.port !== undefined) tags.push(`${s.portFromTag}${s.self.port}`);
  return {
    ID: id,
    Name: s.service,
    Address: s.self.host,
    Port: s.self.port ?? 0,
    Tags: tags,
    Meta: { clusterseed: '1' },
    Check: {
      CheckID: `service:${id}`,
      Name: 'clusterseed TTL',
      Notes: 'kept passing by the clusterseed process; critical when it stops',
      TTL: `${s.ttlSeconds}s`,
      Status: 'passing',
      DeregisterCriticalServiceAfter: `${DEREGISTER_CRITICAL_AFTER_SECONDS}s`,
    },
  };
}

/**
 * Registers the instance with a TTL check and keeps the check passing every TTL/3. When the agent no
 * longer knows the check (agent restarted, instance reaped after being critical), it registers again
 * and logs it. close() stops the refresh and deregisters.
 */
export async function registerWithTtlCheck(
  http: ConsulHttp,
  settings: RegistrationSettings,
  context: { clock: Clock; logger: Logger; signal?: AbortSignal },
): Promise<Registration> {
  const { clock, logger } = context;
  const body = JSON.stringify(registrationBody(settings));
  const id = serviceId(settings.service, settings.self);
  const checkPath = `/v1/agent/check/pass/${encodeSegment(`service:${id}`)}`;
  const register = (signal?: AbortSignal) => http.call('PUT', '/v1/agent/service/register', { body, signal });
  await register(context.signal);
  logger.debug({ serviceId: id }, 'consul: registered');

  const controller = new AbortController();
  let closed = false;
  let timer: TimerHandle | undefined;
  let inflight: Promise<void> = Promise.resolve();
  const refresh = async () => {
    const res = await http.call('PUT', checkPath, { signal: controller.signal, accept: [404, 500] });
    if (res.status === 200) return;
    // 404 "Unknown check ID" (Consul ≥1.11), 500 "does not have associated TTL" / "Unknown check" (older agents)
    if (res.status === 404 || /unknown check|does not have associated TTL/i.test(res.text)) {
      logger.warn({ serviceId: id }, 'consul: the agent lost this registration (agent restart or instance reaped); registering again');
      await register(controller.signal);
      return;
    }
    logger.warn({ serviceId: id, status: res.status }, 'consul: refreshing the TTL check failed');
  };
  const schedule = () => {
    timer = clock.setTimeout(
      () => {
        inflight = refresh()
          .catch((err) => {
            if (!closed) logger.warn({ serviceId: id, error: describeError(err) }, 'consul: refreshing the TTL check failed');
          })
          .finally(() => {
            if (!closed) schedule();
          });
      },
      Math.max(100, Math.floor((settings.ttlSeconds * 1000) / 3)),
    );
    timer.unref();
  };
  schedule();

  const registration: Registration = {
    self: settings.self,
    close: async () => {
      if (closed) return;
      closed = true;
      timer?.cancel();
      controller.abort();
      await inflight; // a re-registration finishing after the deregistration would resurrect the entry
      try {
        await http.call('PUT', `/v1/agent/service/deregister/${encodeSegment(id)}`, { accept: [404] });
        logger.debug({ serviceId: id }, 'consul: deregistered');
      } catch (err) {
        logger.warn({ serviceId: id, error: describeError(err) }, 'consul: deregistration failed; the TTL check will expire and Consul reaps the instance');
      }
    },
  };
  return registration;
}
