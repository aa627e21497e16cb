// Tests decode Sparkplug B as the Sparkplug benchmark does (the subscriber ships with the benches).
export { SparkplugSubscriber, type SpMessage, type SpMetric } from '../../bench/sparkplug-subscriber.ts';
