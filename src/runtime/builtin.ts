// The image operators this build ships, registered by layer media type (see image-operators.ts).
import { MT_EBPF } from '../oci/mediatypes.js';
import { EbpfOperator } from '../operators/ebpf/operator.js';
import { registerImageOperator } from './image-operators.js';

registerImageOperator(MT_EBPF, { name: 'ebpf', instantiate: (ctx, layer) => new EbpfOperator(ctx, layer.data) });
