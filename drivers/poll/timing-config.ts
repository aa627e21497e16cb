// The poll timing keys every polled driver accepts in its config entry, with the scheduler's defaults.
import { z } from 'zod';
import { DEFAULT_TIMING } from './scheduler.ts';

export const pollTimingShape = {
  intervalMs: z.number().int().min(10).default(DEFAULT_TIMING.intervalMs),
  timeoutMs: z.number().int().min(10).max(60_000).default(DEFAULT_TIMING.timeoutMs),
  retries: z.number().int().min(0).max(10).default(DEFAULT_TIMING.retries),
  retryBackoffMs: z.number().int().min(0).max(60_000).default(DEFAULT_TIMING.retryBackoffMs),
  downAfter: z.number().int().min(1).max(1000).default(DEFAULT_TIMING.downAfter),
  downIntervalMaxMs: z.number().int().min(10).default(DEFAULT_TIMING.downIntervalMaxMs),
};
