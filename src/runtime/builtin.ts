// The image operators this build ships, registered by layer media type (see image-operators.ts).
import { MT_EBPF, MT_WASM } from '../oci/mediatypes.js';
import { EbpfOperator } from '../operators/ebpf/operator.js';
import { WasmOperator } from '../operators/wasm/operator.js';
import { processStatsOperator } from '../operators/process/stats.js';
import { cgroupStatsOperator } from '../operators/cgroup/stats.js';
import { ebpfStatsOperator } from '../operators/ebpf/stats.js';
import { registerConfigOperator, registerImageOperator } from './image-operators.js';

registerImageOperator(MT_EBPF, { name: 'ebpf', instantiate: (ctx, layer) => new EbpfOperator(ctx, layer.data) });
// Upstream orders the eBPF layer before the WASM layer, so gadgetInit finds the data sources the program declares.
registerImageOperator(MT_WASM, { name: 'wasm', instantiate: (ctx, layer) => WasmOperator.create(ctx, layer.data) });

// Gadgets without a program: gadget.yaml's `operator.<name>.emitstats: true` makes these operators produce the data.
registerConfigOperator('process', { name: 'process', instantiate: (ctx, cfg) => processStatsOperator(ctx, cfg) });
registerConfigOperator('cgroup', { name: 'cgroup', instantiate: (ctx, cfg) => cgroupStatsOperator(ctx, cfg) });
registerConfigOperator('ebpf', { name: 'ebpf-stats', instantiate: (ctx) => ebpfStatsOperator(ctx) });
