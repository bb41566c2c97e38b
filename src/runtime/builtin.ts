// The image operators this build ships, registered by layer media type (see image-operators.ts).
import { MT_EBPF, MT_WASM } from '../oci/mediatypes.js';
import { EbpfOperator } from '../operators/ebpf/operator.js';
import { WasmOperator } from '../operators/wasm/operator.js';
import { registerImageOperator } from './image-operators.js';

registerImageOperator(MT_EBPF, { name: 'ebpf', instantiate: (ctx, layer) => new EbpfOperator(ctx, layer.data) });
// Upstream orders the eBPF layer before the WASM layer, so gadgetInit finds the data sources the program declares.
registerImageOperator(MT_WASM, { name: 'wasm', instantiate: (ctx, layer) => WasmOperator.create(ctx, layer.data) });
