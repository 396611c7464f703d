/**
 * The userspace side of the example plugin: which program to attach, and how to turn a record from
 * the ring buffer into a typed event. The record layout comes from src/generated/layout.ts, generated
 * from the BTF of the built object, so the decoder reads the offsets the compiler really used.
 */
import { fileURLToPath } from 'node:url';
import { BpfPlugin, createEvent, decodeHeader, type HookVariant, type RingBufferSpec, type TypedEvent } from '@boxwatch/core';
import { hello_record } from './generated/layout.js';

/** The event this plugin emits. */
export type HelloMkdirEvent = TypedEvent<'hello.mkdir', { syscall: 'mkdir' | 'mkdirat' }>;

export class HelloPlugin extends BpfPlugin {
  readonly name = 'hello';
  readonly eventTypes = ['hello.mkdir'];
  readonly variants: readonly HookVariant[] = [{ name: 'tp_btf', programs: ['hello_on_enter'], requires: ['tp_btf', 'ringbuf'] }];
  // dist/hello-plugin.js → ../bpf/hello.bpf.o
  protected readonly objectPath = fileURLToPath(new URL('../bpf/hello.bpf.o', import.meta.url));

  protected override ringBuffers(): RingBufferSpec[] {
    const ctx = this.decodeContext();
    return [
      {
        map: 'hello_events',
        onRecord: (view, off) => {
          const header = decodeHeader(view, off, ctx);
          const nr = Number(view.getBigUint64(off + hello_record.offsets.syscall, true));
          const event: HelloMkdirEvent = createEvent('hello.mkdir', header, { syscall: nr === 83 ? 'mkdir' : 'mkdirat' });
          this.emit(event);
        },
      },
    ];
  }
}
