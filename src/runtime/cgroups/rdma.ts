// RDMA limits: OCI linux.resources.rdma -> rdma.max, one line per device: "mlx5_1 hca_handle=2 hca_object=2000"
// (the same file in v1 and v2). A limit not given is "max".

import type { RdmaLimit } from '../spec/types.js';
import type { CgroupWrite } from './write.js';

export function planRdma(rdma: Record<string, RdmaLimit> | undefined): CgroupWrite[] {
  return Object.entries(rdma ?? {}).map(([device, l]) => ({
    controller: 'rdma',
    file: 'rdma.max',
    value: `${device} hca_handle=${l.hcaHandles ?? 'max'} hca_object=${l.hcaObjects ?? 'max'}`,
    setting: `linux.resources.rdma[${JSON.stringify(device)}]`,
  }));
}
