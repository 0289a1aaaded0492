// Huge page limits: OCI linux.resources.hugepageLimits -> hugetlb.<size>.limit_in_bytes (v1) or hugetlb.<size>.max
// (v2). The kernel names one file per huge page size it supports ("2MB", "1GB"); a size it lacks has no file.

import type { HugepageLimit } from '../spec/types.js';
import type { CgroupWrite } from './write.js';

export function planHugetlb(limits: HugepageLimit[] | undefined, version: 'v1' | 'v2'): CgroupWrite[] {
  return (limits ?? []).map((h, i) => ({
    controller: 'hugetlb',
    file: version === 'v1' ? `hugetlb.${h.pageSize}.limit_in_bytes` : `hugetlb.${h.pageSize}.max`,
    value: String(h.limit),
    setting: `linux.resources.hugepageLimits[${i}] (${h.pageSize} pages)`,
  }));
}
