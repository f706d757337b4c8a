import type { components } from '../../generated/openapi.js';
import type { Task } from '../db/models/Task.js';

export const presentTask = (task: Task): components['schemas']['Task'] => ({
  id: task.id,
  title: task.title,
  description: task.description,
  status: task.status,
  owner_id: task.owner_id,
  created_at: task.created_at.toISOString(),
  updated_at: task.updated_at.toISOString(),
});
