import { Schema } from "effect"

export const TodoState = Schema.Literal("pending", "ready", "in_progress")
export type TodoState = typeof TodoState.Type

export class Todo extends Schema.Class<Todo>("Todo")({
  slug: Schema.String,
  state: TodoState,
  description: Schema.String,
  hasRequirements: Schema.Boolean,
  hasImplementationPlan: Schema.Boolean
}) {}

export class Project extends Schema.Class<Project>("Project")({
  name: Schema.String,
  path: Schema.String,
  description: Schema.String,
  todos: Schema.Array(Todo),
  /** The computer whose trusted dir it is (absent from daemons before the fleet listed projects). */
  computer: Schema.optionalWith(Schema.String, { exact: true })
}) {}
