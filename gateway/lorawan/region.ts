// Where and how a class A downlink is sent after an uplink, per region (LoRaWAN Regional Parameters
// RP002-1.0.x, with RX1DROffset 0 as given in our JoinAccepts): RX1 follows the uplink, RX2 is fixed.

export interface Channel {
  /** MHz */
  freq: number;
  datr: string;
}

export interface Region {
  name: string;
  rx2: Channel;
  /** the RX1 channel for an uplink, or null when the uplink is not on a channel of this plan */
  rx1(uplink: Channel): Channel | null;
}

/** The LoRa data rates of DR0..DR5, which every plan here has. */
const SF12_TO_SF7 = ['SF12BW125', 'SF11BW125', 'SF10BW125', 'SF9BW125', 'SF8BW125', 'SF7BW125'];

/**
 * Regions whose RX1 reuses the uplink's frequency and data rate (offset 0), when they are the
 * plan's: the frequency and data rate come from the forwarder's rxpk, which anything that can send
 * the gateway a datagram writes as it likes around a frame it recorded, and the gateway would
 * transmit wherever RX1 says (outside the band the site is licensed for, or at a rate no node of
 * the plan listens at). Otherwise RX2 answers.
 */
function sameChannel(name: string, band: { minMHz: number; maxMHz: number }, datrs: readonly string[], rx2: Channel): Region {
  const rates = new Set(datrs);
  return {
    name,
    rx2,
    rx1: (up) => (up.freq >= band.minMHz && up.freq <= band.maxMHz && rates.has(up.datr) ? { freq: up.freq, datr: up.datr } : null),
  };
}

/**
 * US915 / AU915: 64 + 8 uplink channels map onto 8 downlink channels 600 kHz apart from 923.3 MHz,
 * and each uplink data rate onto a 500 kHz downlink one.
 */
function hybrid(name: string, first125: number, first500: number, upToDown: Record<string, string>, rx2: Channel): Region {
  return {
    name,
    rx2,
    rx1(up) {
      const datr = upToDown[up.datr];
      if (!datr) return null;
      let ch: number;
      if (up.datr.endsWith('BW500')) ch = Math.round((up.freq - first500) / 1.6);
      else ch = Math.round((up.freq - first125) / 0.2);
      if (!(ch >= 0 && ch < 64)) return null;
      const freq = Math.round((923.3 + 0.6 * (ch % 8)) * 1e6) / 1e6;
      return { freq, datr };
    },
  };
}

export const REGIONS = {
  EU868: sameChannel('EU868', { minMHz: 863, maxMHz: 870 }, [...SF12_TO_SF7, 'SF7BW250'], { freq: 869.525, datr: 'SF12BW125' }),
  AS923: sameChannel('AS923', { minMHz: 915, maxMHz: 928 }, [...SF12_TO_SF7, 'SF7BW250'], { freq: 923.2, datr: 'SF10BW125' }),
  IN865: sameChannel('IN865', { minMHz: 865, maxMHz: 867 }, SF12_TO_SF7, { freq: 866.55, datr: 'SF10BW125' }),
  KR920: sameChannel('KR920', { minMHz: 920.9, maxMHz: 923.3 }, SF12_TO_SF7, { freq: 921.9, datr: 'SF12BW125' }),
  US915: hybrid('US915', 902.3, 903.0, {
    SF10BW125: 'SF12BW500', SF9BW125: 'SF11BW500', SF8BW125: 'SF10BW500', SF7BW125: 'SF9BW500', SF8BW500: 'SF9BW500',
  }, { freq: 923.3, datr: 'SF12BW500' }),
  AU915: hybrid('AU915', 915.2, 915.9, {
    SF12BW125: 'SF12BW500', SF11BW125: 'SF11BW500', SF10BW125: 'SF10BW500', SF9BW125: 'SF9BW500', SF8BW125: 'SF8BW500', SF7BW125: 'SF7BW500', SF8BW500: 'SF7BW500',
  }, { freq: 923.3, datr: 'SF12BW500' }),
} satisfies Record<string, Region>;


/** JOIN_ACCEPT_DELAY1 of LoRaWAN 1.0.x, seconds; RX2 is one second later. */
export const JOIN_ACCEPT_DELAY1 = 5;
