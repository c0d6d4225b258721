import type { Kind } from 'ocipull';
import { describeKernels } from './describe.js';
import { KIND_DESCRIPTION, KIND_NAME } from './facts.js';
import { packKernel } from './pack.js';
import { planKernel } from './plan.js';
import { targetKey } from './target.js';

/**
 * The `kernel` kind: kraftkit's kernel packages (a kernel, an optional initrd and a command line
 * per target, the target being a hypervisor platform and an architecture). docs/kernels.md.
 */
export const kernelKind: Kind = {
  name: KIND_NAME,
  description: KIND_DESCRIPTION,
  plan: planKernel,
  describe: describeKernels,
  pack: packKernel,
  entryKey: targetKey,
};
