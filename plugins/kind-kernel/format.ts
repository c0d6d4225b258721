/**
 * kraftkit's kernel package shape (../docs/kernels.md, KERNEL-PACKAGE-FORMAT): one facts record.
 */
export const KernelFormat = {
  /** Where the kernel and the initrd sit inside their layers' tars. */
  kernelPath: '/unikraft/bin/kernel',
  initrdPath: '/unikraft/bin/initrd',
  /** Layer annotations naming the path of the file the layer carries. */
  kernelAnnotation: 'org.unikraft.kernel.image',
  initrdAnnotation: 'org.unikraft.kernel.initrd',
  /** Manifest annotations. */
  nameAnnotation: 'org.unikraft.image.name',
  versionAnnotation: 'org.unikraft.kernel.version',
  createdAnnotation: 'org.opencontainers.image.created',
  refNameAnnotation: 'org.opencontainers.image.ref.name',
  writerAnnotation: 'sh.kraftkit.version',
  /** The key ocipull writes beside kraftkit's writer version. */
  ocipullAnnotation: 'dev.ocipull.version',
  layerMediaType: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** The files a pulled package lands as, by role. */
export const KERNEL_FILES = { kernel: 'kernel', initrd: 'initrd' } as const;

/** `./unikraft/bin/kernel`, `unikraft/bin/kernel` and `/unikraft/bin/kernel` are the same entry. */
export function samePath(a: string, b: string): boolean {
  const clean = (p: string) => p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
  return clean(a) === clean(b);
}
