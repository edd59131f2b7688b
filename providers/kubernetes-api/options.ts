import { z } from 'zod';
import { Bool, intRange, NonEmptyString, ReadableFile } from '../../src/config/fields.js';

export const method = 'kubernetes-api';
export const aliases = ['pekko-kubernetes-api'] as const;

/** Where a pod's service-account files are mounted (the token, the cluster CA and the namespace). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export const KubernetesApiOptions = z.strictObject({
  method: z.enum([method, ...aliases]),
  /** [KUBERNETES_NAMESPACE, else the service-account namespace file, else "default"] */
  namespace: NonEmptyString.optional(),
  /** ["app=<service>"]; equality- and set-based selectors, as kubectl's -l. */
  labelSelector: NonEmptyString.optional(),
  /** The container port whose `name` matches gives the port; absent: contact points carry no port. */
  portName: NonEmptyString.optional(),
  /** Pods whose container of this name is waiting (crash-looping, pulling) are skipped. */
  containerName: NonEmptyString.optional(),
  /**
   * Only Ready pods [false]: bootstrap must see pods that are not ready yet, because a pod becomes
   * ready only after it joined (filtering on Ready deadlocks formation, or splits it).
   */
  readyOnly: Bool.default(false),
  /** [https:// + KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, IPv6 bracketed] */
  apiServer: NonEmptyString.refine((v) => /^https:\/\/[^/?#\s]+\/?$/i.test(v), {
    error: 'expected an https:// URL of the API server such as https://10.96.0.1:443 (TLS is always verified: there is no http:// mode)',
  }).optional(),
  /** Set explicitly, the files must exist when the config is checked (the defaults are checked at start-up). */
  /** [<service-account dir>/token]; re-read at most every 60 s and at once on a 401 (projected tokens rotate). */
  tokenFile: ReadableFile.optional(),
  /** [<service-account dir>/ca.crt]; the API server is always verified against it. */
  caFile: ReadableFile.optional(),
  /** [<service-account dir>/namespace] */
  namespaceFile: ReadableFile.optional(),
  /** The lock strategy's Lease duration (client-go's default is 15 s). */
  leaseDurationSeconds: intRange(2, 3600, ' s').default(15),
});
export type KubernetesApiOptions = z.output<typeof KubernetesApiOptions>;
