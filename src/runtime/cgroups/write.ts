// What every plan (v1.ts, v2.ts and the per-controller files) is made of, and what the manager performs.

/** One write of the plan: `value` into `file` of the cgroup of `controller`. */
export interface CgroupWrite {
  controller: string;
  file: string;
  value: string;
  /** Skip the write if the file does not exist (a feature the kernel may lack, such as swap accounting). */
  optional?: boolean;
  /** Read the file back after writing, and fail if the kernel clamped the value (cpu.shares). */
  verifyReadBack?: boolean;
  /**
   * If the kernel answers EINVAL, try again after the rest of the plan (cpu.cfs_period_us: a smaller period can
   * be rejected until the new quota is in place).
   */
  retryLaterOnEinval?: boolean;
  /**
   * The config.json setting this write applies, for settings a machine may lack the controller or file for
   * (blockIO, hugepageLimits, network, rdma): the error then names the setting that cannot be applied.
   */
  setting?: string;
}
