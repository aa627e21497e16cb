// A test packet forwarder and simulated LoRaWAN nodes, for the tests, the demo and the benchmark.
// This is a simulator, said plainly: no radio is involved. But everything past the radio is real:
// the forwarder is a UDP client speaking the Semtech protocol to the listener over a real socket
// (PUSH_DATA, PULL_DATA keep-alives, PULL_RESP answered with TX_ACK), and the nodes build real
// LoRaWAN 1.0.x frames with lora-packet: encrypted payloads, MICs, JoinRequests, and they open
// the JoinAccepts and ACKs the server sends back.
export * from './simulator/node.ts';
export * from './simulator/forwarder.ts';
export * from './simulator/site.ts';
