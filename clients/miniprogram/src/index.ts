export * from "./client";
export * from "./transport";
export * from "./wx";
export type { components, operations, paths } from "./schema";
