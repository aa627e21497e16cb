// The journal's sections of the device config: how batches are cut, and how much the journal holds.
import { z } from 'zod';

export const batchSchema = z.strictObject({
  maxRecords: z.number().int().positive().max(1_000_000).default(500),
  maxBytes: z.number().int().positive().default(1_000_000),
  maxAgeMs: z.number().int().positive().default(5000),
});

export const journalSchema = z.strictObject({
  /** Upper bound on the journal's logical size (records and headers held), in bytes. */
  maxBytes: z.number().int().positive().default(8 * 1024 ** 3),
  policy: z.enum(['drop-oldest', 'reject-new']).default('drop-oldest'),
  /** Longest a clean reading waits for the group commit that makes it durable (a flagged one does not wait). */
  commitMaxWaitMs: z.number().int().min(0).default(20),
  /** Most readings in one group commit. */
  commitMaxRecords: z.number().int().positive().default(4096),
});
