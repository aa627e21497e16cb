// Tests read cloud telemetry as the cloud telemetry bench does (the subscriber ships with the benches).
export { TelemetrySubscriber, type TelemetryItem, type TelemetryMessage } from '../../bench/telemetry-subscriber.ts';
