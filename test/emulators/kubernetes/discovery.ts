/* The discovery documents kubectl reads before it touches a resource (GET /api, /apis, …). */

const POD_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function discovery(path: string, serverAddress: string): unknown | undefined {
  switch (path) {
    case '/version':
      return {
        major: '1',
        minor: '20',
        gitVersion: 'v1.20.2',
        gitCommit: 'clusterseed-emulator',
        gitTreeState: 'clean',
        buildDate: '2021-01-13T13:20:00Z',
        goVersion: 'go1.15.5',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    case '/api':
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
    case '/api/v1':
      return {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          {
            name: 'namespaces',
            singularName: '',
            namespaced: false,
            kind: 'Namespace',
            verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
            shortNames: ['ns'],
            storageVersionHash: 'Q3oi5N2YM8M=',
          },
          {
            name: 'pods',
            singularName: '',
            namespaced: true,
            kind: 'Pod',
            verbs: POD_VERBS,
            shortNames: ['po'],
            categories: ['all'],
            storageVersionHash: 'xPOwRZ+Yhw8=',
          },
        ],
      };
    case '/apis':
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: [coordinationGroup()] };
    case '/apis/coordination.k8s.io':
      return { kind: 'APIGroup', apiVersion: 'v1', ...coordinationGroup() };
    case '/apis/coordination.k8s.io/v1':
      return {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'coordination.k8s.io/v1',
        resources: [{ name: 'leases', singularName: '', namespaced: true, kind: 'Lease', verbs: POD_VERBS, storageVersionHash: 'gqkMMb/YqFM=' }],
      };
    default:
      return undefined;
  }
}

function coordinationGroup() {
  const v = { groupVersion: 'coordination.k8s.io/v1', version: 'v1' };
  return { name: 'coordination.k8s.io', versions: [v], preferredVersion: v };
}
