// The Dapr guest library: import everything from "./dapr" (or "./dapr/index").
export * from "./result";
export * from "./http";
export * from "./json";
export * from "./client";
