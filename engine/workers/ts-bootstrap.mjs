// Dev and test only: Node 20 does not apply --import loader hooks inside
// worker threads, so TypeScript workers register tsx themselves.
import { register } from 'tsx/esm/api';
import { workerData } from 'piscina';
register();
const mod = await import(workerData.tsWorker);
export default mod.default;
