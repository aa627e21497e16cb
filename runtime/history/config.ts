// The device page's history (the `history:` key of the `http:` section): how far back the page
// can look, at what resolution, and for how many series. Memory is at most
// maxSeries x (hours x 3600 / bucketSeconds) x 40 bytes: 11.5 MB with the defaults (250 series,
// 24 h of 1-minute buckets), allocated only as series appear.
import { z } from 'zod';

/** buckets a series holds, at most: a week of 30 s buckets, a day of 5 s ones */
export const MAX_BUCKETS_PER_SERIES = 20_160;

export const historySchema = z
  .strictObject({
    /** how far back the page looks */
    hours: z.number().int().min(1).max(168).default(24),
    /** one bucket (min, avg, max, count) per series per this many seconds */
    bucketSeconds: z.number().int().min(1).max(3600).default(60),
    /** series (sensor and metric) kept; further ones are counted and not kept */
    maxSeries: z.number().int().positive().max(5000).default(250),
  })
  .refine((h) => (h.hours * 3600) / h.bucketSeconds <= MAX_BUCKETS_PER_SERIES, {
    message: `hours x 3600 / bucketSeconds must be at most ${MAX_BUCKETS_PER_SERIES} buckets per series`,
  });

export type HistoryConfig = z.output<typeof historySchema>;

export const DEFAULT_HISTORY: HistoryConfig = historySchema.parse({});
