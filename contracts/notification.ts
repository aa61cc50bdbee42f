import { z } from 'zod';
import { JsonObject } from './common.js';

export const NotificationType = z.enum(['info', 'success', 'warning', 'error']);

/** A notification as publishers send it and clients show it. */
export const Notification = z.object({
  id: z.string().min(1).max(128).optional(),
  type: NotificationType,
  title: z.string().min(1).max(200),
  message: z.string().max(2000),
  data: JsonObject.optional(),
});

export type NotificationType = z.infer<typeof NotificationType>;
export type Notification = z.infer<typeof Notification>;
