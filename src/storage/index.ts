export type { ObjectStore, PutOptions, StoredObject } from './object-store.js';
export { createFsObjectStore } from './fs/fs-object-store.js';
export { openLocation } from './open-location.js';
