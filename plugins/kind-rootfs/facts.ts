/** The rootfs kind's name and one-line description (kind.ts and the lazy record in index.ts). */
export const KIND_NAME = 'rootfs';
export const KIND_DESCRIPTION =
  "a container image's layers applied into a root filesystem (a tree, tar, ext4 or erofs)";
