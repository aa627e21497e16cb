// tf.io save and load handlers for a directory on the device's disk (tfjs-node, which has its own
// file:// handler, is not used: it needs a native TensorFlow build). The layout is the usual
// TensorFlow.js one: model.json (topology, weights manifest, metadata) and weights.bin. Both are
// written to temporary names, synced and renamed, so a power cut leaves the old model or the new
// one, never half of one.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { syncFolder, writeFileAtomic } from '../../kernel/atomic-file.ts';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

/** Save handler: `model.save(fileSaveHandler(dir))`. */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) throw new Error('only JSON model topologies can be saved');
      mkdirSync(dir, { recursive: true });
      const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      // weights first: a model.json never points at weights that are not there yet
      writeFileAtomic(join(dir, WEIGHTS_FILE), new Uint8Array(weights), { syncFolder: false });
      writeFileAtomic(join(dir, MODEL_FILE), JSON.stringify(modelJson), { syncFolder: false });
      syncFolder(dir);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights }) };
    },
  };
}

/** Load handler: `tfl.loadLayersModel(fileLoadHandler(dir))`. Missing or damaged files are errors naming the file. */
export function fileLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelPath = join(dir, MODEL_FILE);
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(readFileSync(modelPath, 'utf8')) as tf.io.ModelJSON;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new Error(`${modelPath}: ${e.code === 'ENOENT' ? 'no saved model' : `unreadable (${e.code ?? e.message})`}`);
      }
      if (typeof json !== 'object' || json === null || !json.modelTopology || !Array.isArray(json.weightsManifest)) throw new Error(`${modelPath}: not a TensorFlow.js model.json`);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const file = join(dir, p);
          if (!file.startsWith(dir)) throw new Error(`${modelPath}: weights path ${p} leaves the model directory`);
          buffers.push(readFileSync(file));
        }
      }
      const all = Buffer.concat(buffers);
      const bytes: Record<string, number> = { float32: 4, int32: 4, bool: 1 };
      const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * (s.quantization ? (s.quantization.dtype === 'uint8' ? 1 : 2) : (bytes[s.dtype] ?? 4)), 0);
      if (all.byteLength !== expected) throw new Error(`${join(dir, WEIGHTS_FILE)}: ${all.byteLength} bytes, the manifest needs ${expected}`);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
      return tf.io.getModelArtifactsForJSONSync(json, specs, weightData);
    },
  };
}
