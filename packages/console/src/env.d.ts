/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Single-file components are compiled by Vite (@vitejs/plugin-vue); tsc sees them as components.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
