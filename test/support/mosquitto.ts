// Tests start their brokers with the same launcher the alert benchmark uses (it ships with the
// benches; tests reach it through their support folder, never from a stage's folder directly).
export { makeClientCert, makeTestCerts, startMosquitto, type Broker, type TestCerts } from '../../bench/local-mosquitto.ts';
