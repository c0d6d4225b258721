/** The kernel kind's name and one-line description (kind.ts and the lazy record in index.ts). */
export const KIND_NAME = 'kernel';
export const KIND_DESCRIPTION =
  'a kernel package (kraftkit): kernel, initrd and command line per hypervisor platform';
