import type { components } from '../../generated/openapi.js';
import type { Task } from '../db/models/Task.js';
import { priorityOf } from './priority.js';

export const presentTask = (task: Task): components['schemas']['Task'] => ({
  id: task.id,
  title: task.title,
  description: task.description,
  status: task.status,
  due_at: task.due_at?.toISOString() ?? null,
  priority: priorityOf(task.priority),
  labels: task.labels,
  completed_at: task.completed_at?.toISOString() ?? null,
  owner_id: task.owner_id,
  created_at: task.created_at.toISOString(),
  updated_at: task.updated_at.toISOString(),
});
