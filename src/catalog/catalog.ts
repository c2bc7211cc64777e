/**
 * Catalog: the control plane's resources (models, endpoint configs, endpoints) by kind and name,
 * each a JSON document as SageMaker describes it; and the access keys made with `asyncinfer keys`
 * (so every gateway and worker sharing the catalog reads the same ones).
 *
 * Guarantees: writes are durable when they resolve; `create` refuses an existing name (and says
 * so by returning false) so two clients cannot both create one; names compare exactly (the ARN,
 * not the store, lower-cases them).
 *
 * Deliberately not here: validation, references between resources, lifecycle — those belong to
 * the control-plane operations.
 */
export const ResourceKinds = ['model', 'endpoint-config', 'endpoint', 'access-key'] as const;
export type ResourceKind = (typeof ResourceKinds)[number];

export interface Resource<T = Record<string, unknown>> {
  name: string;
  createdAtMs: number;
  updatedAtMs: number;
  doc: T;
}

export interface Catalog {
  start(): Promise<void>;
  stop(): Promise<void>;
  create(kind: ResourceKind, name: string, doc: object): Promise<Resource | undefined>;
  get(kind: ResourceKind, name: string): Promise<Resource | undefined>;
  /** Replaces the document; false when there is no such resource. */
  update(kind: ResourceKind, name: string, doc: object): Promise<boolean>;
  delete(kind: ResourceKind, name: string): Promise<boolean>;
  list(kind: ResourceKind): Promise<Resource[]>;
}
